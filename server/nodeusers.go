package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"corral/agent"
	"corral/api/rest"
)

// nodeUsers is the server's rest.NodeUsers. A node of the local provider runs its agent on this
// machine, so its users are accounts of this machine: agent.NodeUsers adds them, with the record
// of the names it added in the node's root directory, and never touches another account. Nodes
// on other machines cannot have users yet (409, saying so).
type nodeUsers struct {
	local  localFiles
	mu     sync.Mutex
	byRoot map[string]*agent.NodeUsers
}

var _ rest.NodeUsers = (*nodeUsers)(nil)

func newNodeUsers(root string) *nodeUsers {
	return &nodeUsers{local: newLocalFiles(root), byRoot: map[string]*agent.NodeUsers{}}
}

// of returns the NodeUsers of a local node.
func (u *nodeUsers) of(poolID, nodeID string) (*agent.NodeUsers, error) {
	if !u.local.hasDir(poolID, nodeID, "", "") {
		return nil, fmt.Errorf("%w: node %s runs on another machine; Corral adds users to the local provider's nodes only", rest.ErrNodeUsersUnsupported, nodeID)
	}
	l, err := u.local.layout(poolID, nodeID)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	n := u.byRoot[l.Root()]
	if n == nil {
		n = agent.NewNodeUsers(l.Root())
		u.byRoot[l.Root()] = n
	}
	return n, nil
}

// AddUser implements rest.NodeUsers.
func (u *nodeUsers) AddUser(ctx context.Context, poolID, nodeID string, user rest.NodeUser) error {
	n, err := u.of(poolID, nodeID)
	if err != nil {
		return err
	}
	return userError(n.Add(ctx, agentUser(user)))
}

// UpdateUser implements rest.NodeUsers.
func (u *nodeUsers) UpdateUser(ctx context.Context, poolID, nodeID string, user rest.NodeUser) error {
	n, err := u.of(poolID, nodeID)
	if err != nil {
		return err
	}
	return userError(n.Update(ctx, agentUser(user)))
}

// DeleteUser implements rest.NodeUsers.
func (u *nodeUsers) DeleteUser(ctx context.Context, poolID, nodeID, name string) error {
	n, err := u.of(poolID, nodeID)
	if err != nil {
		return err
	}
	return userError(n.Delete(ctx, name))
}

func agentUser(u rest.NodeUser) agent.NodeUser {
	return agent.NodeUser{Name: u.Name, IsAdmin: u.IsAdmin, Expiry: u.Expiry, Password: u.Password, SSHPublicKey: u.SSHPublicKey}
}

// userError maps agent.NodeUsers' errors to rest's.
func userError(err error) error {
	for _, m := range []struct{ from, to error }{
		{agent.ErrNodeUserExists, rest.ErrNodeUserExists},
		{agent.ErrNodeUserNotFound, rest.ErrNodeUserNotFound},
		{agent.ErrInvalidNodeUser, rest.ErrNodeUserInvalid},
		{agent.ErrNodeUsersUnsupported, rest.ErrNodeUsersUnsupported},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%w: %w", m.to, err)
		}
	}
	return err
}
