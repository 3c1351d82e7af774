package rest

import (
	"net/http"

	"corral/api"
)

// Operations on what a Corral node never has: VM extensions, and remote login.

// nodeVMExtension is the part of Azure's NodeVMExtension that an empty list needs; a Corral node
// has none.
type nodeVMExtension struct {
	ProvisioningState string `json:"provisioningState"`
}

// listNodeExtensions is Compute Node Extension - List: GET
// /pools/{poolId}/nodes/{nodeId}/extensions. A Corral node is no Azure VM and has no VM
// extensions: the list is empty (maxresults is checked), for a node that exists.
func (s *Server) listNodeExtensions(c *call) *api.Error {
	if _, _, e := s.pathNode(c); e != nil {
		return e
	}
	if _, _, e := c.paging(); e != nil {
		return e
	}
	return writeList(c, "extensions", []nodeVMExtension{}, "")
}

// getNodeExtension is Compute Node Extension - Get: GET
// /pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}: 404 ResourceNotFound (Azure's code
// for a resource that does not exist, as it has none of its own for extensions), for a node that
// exists.
func (s *Server) getNodeExtension(c *call) *api.Error {
	if _, _, e := s.pathNode(c); e != nil {
		return e
	}
	return &api.Error{Status: http.StatusNotFound, Code: api.CodeResourceNotFound,
		Message: "The specified extension does not exist: Corral's compute nodes have no VM extensions."}
}

// noRemoteLogin is Compute Node - Get Remote Login Settings (GET .../remoteloginsettings) and
// Compute Node - Get Remote Desktop (GET .../rdp): Corral's nodes offer no SSH or RDP endpoint
// and have no user accounts to log in with, so both are 409 OperationInvalidForCurrentState,
// Azure's answer to an operation its node cannot carry out, for a node that exists.
func (s *Server) noRemoteLogin(c *call) *api.Error {
	if _, _, e := s.pathNode(c); e != nil {
		return e
	}
	return &api.Error{Status: http.StatusConflict, Code: api.CodeOperationInvalidForCurrentState,
		Message: "Corral's compute nodes do not support remote login: Corral does not manage an SSH or RDP endpoint for them."}
}
