package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"corral/agent"
	"corral/agent/protocol"
	"corral/agentlink"
	"corral/api/rest"
)

// askLink is what nodeUsers and nodeLogs need of the agent link: agentlink.Hub's Ask.
type askLink interface {
	Ask(ctx context.Context, poolID, nodeID string, req any) (protocol.NodeAnswer, error)
}

// nodeUsers is the server's rest.NodeUsers. A user of a node is an account of the node's
// machine, which agent.NodeUsers adds, with the record of the names it added in the node's root
// directory, never touching another account. A node of the local provider runs its agent on
// this machine, so the server adds its users itself (it must run as root), and they stay
// manageable while the node's agent is down; for a node on another machine the server asks the
// node's agent over the agent link (agentlink.Hub.Ask), which does the same there (it must run
// as root there). The password and SSH key are never logged on either side.
type nodeUsers struct {
	local  localFiles
	link   askLink
	mu     sync.Mutex
	byRoot map[string]*agent.NodeUsers
}

var _ rest.NodeUsers = (*nodeUsers)(nil)

func newNodeUsers(root string, link askLink) *nodeUsers {
	return &nodeUsers{local: newLocalFiles(root), link: link, byRoot: map[string]*agent.NodeUsers{}}
}

// of returns the NodeUsers of a local node, or nil for a node on another machine.
func (u *nodeUsers) of(poolID, nodeID string) (*agent.NodeUsers, error) {
	if !u.local.hasDir(poolID, nodeID, "", "") {
		return nil, nil
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
	if n == nil {
		return u.ask(ctx, poolID, nodeID, userRequest(protocol.UserOpAdd, user))
	}
	return userError(n.Add(ctx, agentUser(user)))
}

// UpdateUser implements rest.NodeUsers.
func (u *nodeUsers) UpdateUser(ctx context.Context, poolID, nodeID string, user rest.NodeUser) error {
	n, err := u.of(poolID, nodeID)
	if err != nil {
		return err
	}
	if n == nil {
		return u.ask(ctx, poolID, nodeID, userRequest(protocol.UserOpUpdate, user))
	}
	return userError(n.Update(ctx, agentUser(user)))
}

// DeleteUser implements rest.NodeUsers.
func (u *nodeUsers) DeleteUser(ctx context.Context, poolID, nodeID, name string) error {
	n, err := u.of(poolID, nodeID)
	if err != nil {
		return err
	}
	if n == nil {
		return u.ask(ctx, poolID, nodeID, protocol.UserRequest{Op: protocol.UserOpDelete, Name: name})
	}
	return userError(n.Delete(ctx, name))
}

func userRequest(op string, u rest.NodeUser) protocol.UserRequest {
	return protocol.UserRequest{Op: op, Name: u.Name, IsAdmin: u.IsAdmin, Expiry: u.Expiry, Password: u.Password, SSHPublicKey: u.SSHPublicKey}
}

// ask carries out a user request on a node's agent and maps its errors to rest's: the agent's
// codes, and an agent that is not connected (409, saying so).
func (u *nodeUsers) ask(ctx context.Context, poolID, nodeID string, req protocol.UserRequest) error {
	if u.link == nil {
		return fmt.Errorf("%w: node %s runs on another machine, which this server cannot reach", rest.ErrNodeUsersUnsupported, nodeID)
	}
	_, err := u.link.Ask(ctx, poolID, nodeID, req)
	var ae *protocol.NodeAnswerError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		switch ae.Code {
		case protocol.AnswerErrUserExists:
			return fmt.Errorf("%w: %w", rest.ErrNodeUserExists, err)
		case protocol.AnswerErrUserNotFound:
			return fmt.Errorf("%w: %w", rest.ErrNodeUserNotFound, err)
		case protocol.AnswerErrInvalid:
			return fmt.Errorf("%w: %w", rest.ErrNodeUserInvalid, err)
		case protocol.AnswerErrUnsupported:
			return fmt.Errorf("%w: %w", rest.ErrNodeUsersUnsupported, err)
		}
	case errors.Is(err, agentlink.ErrNotConnected), errors.Is(err, agentlink.ErrClosed), errors.Is(err, agentlink.ErrOutboxFull):
		return fmt.Errorf("%w: the node's agent cannot be reached: %w", rest.ErrNodeUsersUnsupported, err)
	}
	return err
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
