package rest

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"corral/api"
	"corral/service"
)

// Operations on things a Corral account never has. Azure answers them for an account that has
// none of the thing, and so does Corral: an empty list, or 404 for one of them. Adding one
// (certificates, which need Azure Key Vault and the Azure portal or management API for
// applications) stays unimplemented.

// application is Azure's ApplicationSummary; a Corral account has none.
type application struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Versions    []string `json:"versions"`
}

// certificate is the part of Azure's Certificate that an empty list needs; a Corral account has
// none.
type certificate struct {
	Thumbprint          string `json:"thumbprint"`
	ThumbprintAlgorithm string `json:"thumbprintAlgorithm"`
}

// subtask is Azure's SubtaskInformation; only multi-instance tasks have subtasks, and Corral
// runs none.
type subtask struct {
	ID int32 `json:"id"`
}

// listApplications is Application - List: GET /applications. Applications (packages deployed
// to nodes) are managed through Azure's management API and portal; a Corral account has none.
func (s *Server) listApplications(c *call) *api.Error {
	if _, _, e := c.paging(); e != nil {
		return e
	}
	return writeList(c, "applications", []application{}, "")
}

// getApplication is Application - Get: GET /applications/{applicationId}. None exists.
func (s *Server) getApplication(c *call) *api.Error {
	return api.NewError(api.CodeApplicationNotFound)
}

// listCertificates is Certificate - List: GET /certificates. A Corral account has none (Corral
// does not install certificates on nodes).
func (s *Server) listCertificates(c *call) *api.Error {
	if _, _, e := c.paging(); e != nil {
		return e
	}
	return writeList(c, "certificates", []certificate{}, "")
}

// listSubtasks is Task - List Subtasks: GET /jobs/{jobId}/tasks/{taskId}/subtasksinfo. Only a
// multi-instance task has subtasks, and Corral refuses multiInstanceSettings, so a task that
// exists has none; one that does not is 404 TaskNotFound, as for Task - Get.
func (s *Server) listSubtasks(c *call) *api.Error {
	jobID, taskID, e := c.taskIDs()
	if e != nil {
		return e
	}
	if _, err := service.GetTask(c.ctx, s.st, jobID, taskID); err != nil {
		return c.readError("list subtasks", err)
	}
	return writeList(c, "subtaskinformation", []subtask{}, "")
}

// certificatePath is Azure's path of one certificate, and of its cancel-delete operation:
// /certificates(thumbprintAlgorithm={alg},thumbprint={thumbprint})[/canceldelete].
var certificatePath = regexp.MustCompile(`^/certificates\(thumbprintAlgorithm=([^,()/]*),thumbprint=([^,()/]*)\)(/canceldelete)?$`)

// certificateOperation answers Certificate - Get (GET, HEAD), Certificate - Delete (DELETE) and
// Certificate - Cancel Deletion (POST .../canceldelete) as Azure answers them for a certificate
// the account does not have: 404 CertificateNotFound, since a Corral account has none. It
// reports false for a path that is not one of these. Azure requires sha1 as the algorithm.
func certificateOperation(c *call) (*api.Error, bool) {
	m := certificatePath.FindStringSubmatch(c.r.URL.Path)
	if m == nil {
		return nil, false
	}
	allow := []string{http.MethodDelete, http.MethodGet, http.MethodHead}
	if m[3] != "" {
		allow = []string{http.MethodPost}
	}
	if !slices.Contains(allow, c.r.Method) {
		c.w.Header().Set("Allow", strings.Join(allow, ", "))
		return api.NewError(api.CodeUnsupportedHTTPVerb), true
	}
	if !strings.EqualFold(m[1], "sha1") {
		return api.InvalidProperty("thumbprintAlgorithm", m[1], "The thumbprint algorithm must be sha1."), true
	}
	return api.NewError(api.CodeCertificateNotFound), true
}
