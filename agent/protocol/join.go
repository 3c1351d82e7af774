package protocol

import (
	"errors"
	"strings"
)

// Joining: an agent on a machine that has no credential yet POSTs a JoinRequest to JoinPath
// with a join token, and gets back the credential of the node it is to be (JoinResponse). The
// join token carries the fingerprint of the server's CA certificate, so that the agent can
// check, on that first connection, that it talks to the right server (see ParseJoinToken).

// JoinPath is the path of the join endpoint on the server.
const JoinPath = "/corral/agent/v1/join"

// joinTokenPrefix starts every join token's text; it names the format's version.
const joinTokenPrefix = "corral1"

// JoinRequest is the body of a join request.
type JoinRequest struct {
	// Token is the join token's text.
	Token string `json:"token"`
	// Hostname is the machine's name, for the server's log and node listing.
	Hostname string `json:"hostname,omitempty"`
}

// JoinResponse is the server's answer to a JoinRequest, which the agent keeps in a file only it
// can read. A token bound to a node gives that node and its credential (AuthorizationHeader).
// An open token makes the agent's machine one of the pool's machines (MachineID and
// MachineCredential): it waits for the node it is to be at AssignPath.
type JoinResponse struct {
	PoolID            string `json:"poolId"`
	NodeID            string `json:"nodeId,omitempty"`
	Credential        string `json:"credential,omitempty"`
	MachineID         string `json:"machineId,omitempty"`
	MachineCredential string `json:"machineCredential,omitempty"`
	// CACert is the server's CA certificate (PEM), for the agent's later connections; empty
	// when the server does not serve TLS.
	CACert string `json:"caCert,omitempty"`
}

// FormatJoinToken returns a join token's text:
//
//	corral1.<id>.<secret>[.<caFingerprint>]
//
// id and secret must not contain '.'; caFingerprint ("sha256:<hex>") is left out when the server
// has no CA (it serves plain HTTP on loopback).
func FormatJoinToken(id, secret, caFingerprint string) string {
	s := joinTokenPrefix + "." + id + "." + secret
	if caFingerprint != "" {
		s += "." + caFingerprint
	}
	return s
}

// ParseJoinToken splits a join token's text made by FormatJoinToken. It checks the form, not
// the secret.
func ParseJoinToken(s string) (id, secret, caFingerprint string, err error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 3 || len(parts) > 4 || parts[0] != joinTokenPrefix || parts[1] == "" || parts[2] == "" {
		return "", "", "", errors.New("protocol: a join token is corral1.<id>.<secret>[.sha256:<hex>]")
	}
	if len(parts) == 4 {
		caFingerprint = parts[3]
		if !strings.HasPrefix(caFingerprint, "sha256:") || len(caFingerprint) != len("sha256:")+64 {
			return "", "", "", errors.New("protocol: a join token's CA fingerprint is sha256:<64 hex digits>")
		}
	}
	return parts[1], parts[2], caFingerprint, nil
}

// AssignPath is where a machine of a static pool waits for the node it is to be: it POSTs an
// AssignmentRequest, with the Authorization header MachineAuthorizationHeader makes, and the
// server answers an AssignmentResponse, at once when the machine is lent to a node, else when
// WaitMillis have passed (with NodeID empty).
const AssignPath = "/corral/agent/v1/assignment"

// MachineAuthScheme is the scheme of the Authorization header of assignment requests.
const MachineAuthScheme = "CorralMachine"

// AssignmentRequest is the body of an assignment request.
type AssignmentRequest struct {
	WaitMillis int64 `json:"waitMs,omitempty"`
}

// AssignmentResponse names the node a machine is lent to, with a credential of the node issued
// for this answer; NodeID is empty while the machine is free.
type AssignmentResponse struct {
	NodeID     string `json:"nodeId,omitempty"`
	Credential string `json:"credential,omitempty"`
}

// MachineAuthorizationHeader returns the Authorization header of a machine's assignment
// requests: "CorralMachine <poolId>/<machineId>:<machineCredential>".
func MachineAuthorizationHeader(poolID, machineID, credential string) string {
	return MachineAuthScheme + " " + poolID + "/" + machineID + ":" + credential
}

// ParseMachineAuthorization splits a header made by MachineAuthorizationHeader.
func ParseMachineAuthorization(header string) (poolID, machineID, credential string, err error) {
	rest, ok := strings.CutPrefix(header, MachineAuthScheme+" ")
	if !ok {
		return "", "", "", errors.New("protocol: authorization scheme is not " + MachineAuthScheme)
	}
	return splitCredential(rest)
}
