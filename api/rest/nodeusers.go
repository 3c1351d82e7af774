package rest

import (
	"context"
	"errors"
	"net/http"
	"time"

	"corral/api"
	"corral/batch"
)

// NodeUser is an account of Compute Node - Add User or Update User, as the API gives it: Azure's
// ComputeNodeUser (the name, admin rights, expiry, password and SSH key).
type NodeUser struct {
	Name         string
	IsAdmin      bool
	Expiry       time.Time
	Password     string
	SSHPublicKey string
}

// NodeUsers adds, changes and deletes the user accounts of nodes. Its errors wrap one of the
// ErrNodeUser values, or are internal.
type NodeUsers interface {
	AddUser(ctx context.Context, poolID, nodeID string, u NodeUser) error
	UpdateUser(ctx context.Context, poolID, nodeID string, u NodeUser) error
	DeleteUser(ctx context.Context, poolID, nodeID, name string) error
}

// Errors of NodeUsers, which the operations answer as Azure does.
var (
	// ErrNodeUserExists: 409 NodeUserExists.
	ErrNodeUserExists = errors.New("the node user exists")
	// ErrNodeUserNotFound: 404 NodeUserNotFound.
	ErrNodeUserNotFound = errors.New("the node user does not exist")
	// ErrNodeUserInvalid: 400 InvalidPropertyValue (a name, password or key the node cannot
	// take); the error's text says why.
	ErrNodeUserInvalid = errors.New("invalid node user")
	// ErrNodeUsersUnsupported: 409 OperationInvalidForCurrentState; the error's text says why.
	ErrNodeUsersUnsupported = errors.New("the node cannot have user accounts")
)

// defaultUserExpiry is how long an account lasts when the request gives no expiryTime (Azure:
// one day).
const defaultUserExpiry = 24 * time.Hour

// addUserParameter is Azure's ComputeNodeUser, the body of Compute Node - Add User.
type addUserParameter struct {
	Name         *string    `json:"name"`
	IsAdmin      *bool      `json:"isAdmin"`
	ExpiryTime   *time.Time `json:"expiryTime"`
	Password     *string    `json:"password"`
	SSHPublicKey *string    `json:"sshPublicKey"`
}

// updateUserParameter is Azure's NodeUpdateUserParameter, the body of Compute Node - Update User.
type updateUserParameter struct {
	Password     *string    `json:"password"`
	ExpiryTime   *time.Time `json:"expiryTime"`
	SSHPublicKey *string    `json:"sshPublicKey"`
}

// addNodeUser is Compute Node - Add User: POST /pools/{poolId}/nodes/{nodeId}/users → 201. The
// account is one of the node's machine (see agent.NodeUsers): a name that the machine has
// already is 409 NodeUserExists.
func (s *Server) addNodeUser(c *call) *api.Error {
	poolID, nodeID, e := s.userNode(c)
	if e != nil {
		return e
	}
	var p addUserParameter
	if e := c.decode(&p, api.RequestModel{}); e != nil {
		return e
	}
	if p.Name == nil || *p.Name == "" {
		return api.MissingProperty("name")
	}
	u := NodeUser{Name: *p.Name, Expiry: c.now.Add(defaultUserExpiry)}
	if p.IsAdmin != nil {
		u.IsAdmin = *p.IsAdmin
	}
	setUserFields(&u, p.ExpiryTime, p.Password, p.SSHPublicKey)
	if err := s.users.AddUser(c.ctx, poolID, nodeID, u); err != nil {
		return c.userError("add node user", err)
	}
	c.writeHeaders(http.StatusCreated, c.nodeURL(poolID, nodeID)+"/users/"+u.Name, "", time.Time{})
	return nil
}

// updateNodeUser is Compute Node - Update User: PUT
// /pools/{poolId}/nodes/{nodeId}/users/{userName} → 200. It replaces, as Azure documents: a
// password or SSH key left out is removed, and an expiry left out is a day from now.
func (s *Server) updateNodeUser(c *call) *api.Error {
	poolID, nodeID, e := s.userNode(c)
	if e != nil {
		return e
	}
	var p updateUserParameter
	if e := c.decode(&p, api.RequestModel{}); e != nil {
		return e
	}
	u := NodeUser{Name: c.r.PathValue("userName"), Expiry: c.now.Add(defaultUserExpiry)}
	setUserFields(&u, p.ExpiryTime, p.Password, p.SSHPublicKey)
	if err := s.users.UpdateUser(c.ctx, poolID, nodeID, u); err != nil {
		return c.userError("update node user", err)
	}
	c.writeHeaders(http.StatusOK, c.nodeURL(poolID, nodeID)+"/users/"+u.Name, "", time.Time{})
	return nil
}

// deleteNodeUser is Compute Node - Delete User: DELETE
// /pools/{poolId}/nodes/{nodeId}/users/{userName} → 200. Only an account added through the API
// can be deleted: any other name is 404 NodeUserNotFound.
func (s *Server) deleteNodeUser(c *call) *api.Error {
	poolID, nodeID, e := s.userNode(c)
	if e != nil {
		return e
	}
	if err := s.users.DeleteUser(c.ctx, poolID, nodeID, c.r.PathValue("userName")); err != nil {
		return c.userError("delete node user", err)
	}
	c.writeHeaders(http.StatusOK, "", "", time.Time{})
	return nil
}

// userNode is the node of a user operation's path, which must exist (404 PoolNotFound or
// NodeNotFound) and be idle or running, as Azure requires (Azure documents no code for the
// others; Corral answers 409 OperationInvalidForCurrentState).
func (s *Server) userNode(c *call) (poolID, nodeID string, e *api.Error) {
	poolID, n, e := s.pathNode(c)
	if e != nil {
		return "", "", e
	}
	if n.State != batch.NodeIdle && n.State != batch.NodeRunning {
		return "", "", api.NewError(api.CodeOperationInvalidForCurrentState,
			api.ErrorValue{Key: "Reason", Value: "A node's users can be changed while it is idle or running; this one is " + string(n.State) + "."})
	}
	return poolID, n.ID, nil
}

func setUserFields(u *NodeUser, expiry *time.Time, password, key *string) {
	if expiry != nil {
		u.Expiry = *expiry
	}
	if password != nil {
		u.Password = *password
	}
	if key != nil {
		u.SSHPublicKey = *key
	}
}

// userError answers an error of NodeUsers.
func (c *call) userError(what string, err error) *api.Error {
	reason := api.ErrorValue{Key: "Reason", Value: err.Error()}
	switch {
	case errors.Is(err, ErrNodeUserExists):
		return api.NewError(api.CodeNodeUserExists)
	case errors.Is(err, ErrNodeUserNotFound):
		return api.NewError(api.CodeNodeUserNotFound)
	case errors.Is(err, ErrNodeUserInvalid):
		return api.NewError(api.CodeInvalidPropertyValue, reason)
	case errors.Is(err, ErrNodeUsersUnsupported):
		return api.NewError(api.CodeOperationInvalidForCurrentState, reason)
	case errors.Is(err, context.DeadlineExceeded):
		return api.NewError(api.CodeOperationTimedOut)
	}
	return c.internal(what, err)
}

// userRoutes are the paths of the node user operations: 501 NotImplemented without NodeUsers.
func (s *Server) userRoutes() []route {
	const users, user = "/pools/{poolId}/nodes/{nodeId}/users", "/pools/{poolId}/nodes/{nodeId}/users/{userName}"
	if s.users == nil {
		return []route{{users, nil, []string{http.MethodPost}}, {user, nil, []string{http.MethodPut, http.MethodDelete}}}
	}
	return []route{
		{users, map[string]handlerFunc{http.MethodPost: s.addNodeUser}, nil},
		{user, map[string]handlerFunc{http.MethodPut: s.updateNodeUser, http.MethodDelete: s.deleteNodeUser}, nil},
	}
}
