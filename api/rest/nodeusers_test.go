package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"corral/api"
	"corral/api/rest"
)

// fakeUsers is a node's accounts as rest.NodeUsers sees them.
type fakeUsers struct {
	mu    sync.Mutex
	users map[string]rest.NodeUser // node/name
}

func (f *fakeUsers) AddUser(_ context.Context, poolID, nodeID string, u rest.NodeUser) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch k := nodeID + "/" + u.Name; {
	case u.Name == "Bad":
		return fmt.Errorf("%w: uppercase", rest.ErrNodeUserInvalid)
	case u.Name == "root":
		return fmt.Errorf("%w: root", rest.ErrNodeUserExists)
	case f.users[k] != (rest.NodeUser{}):
		return rest.ErrNodeUserExists
	default:
		f.users[k] = u
	}
	return nil
}

func (f *fakeUsers) UpdateUser(_ context.Context, poolID, nodeID string, u rest.NodeUser) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := nodeID + "/" + u.Name
	if f.users[k] == (rest.NodeUser{}) {
		return rest.ErrNodeUserNotFound
	}
	f.users[k] = u
	return nil
}

func (f *fakeUsers) DeleteUser(_ context.Context, poolID, nodeID, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := nodeID + "/" + name
	if f.users[k] == (rest.NodeUser{}) {
		return rest.ErrNodeUserNotFound
	}
	delete(f.users, k)
	return nil
}

func (f *fakeUsers) get(node, name string) rest.NodeUser {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[node+"/"+name]
}

// TestNodeUsers: Compute Node - Add, Update and Delete User reach the node's accounts with
// Azure's defaults (an expiry a day away; an update replaces), and the accounts' errors get
// Azure's codes.
func TestNodeUsers(t *testing.T) {
	users := &fakeUsers{users: map[string]rest.NodeUser{}}
	e := newEnv(t, envOptions{users: users})
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	node := e.idleNodes("p1", 1)[0].ID
	path := "/pools/p1/nodes/" + node + "/users"

	before := time.Now()
	r := e.do("POST", path, nil, map[string]any{"name": "alice", "password": "pw", "sshPublicKey": "ssh-ed25519 AAAA", "isAdmin": true})
	want(t, r, http.StatusCreated, "")
	if got := r.header.Get("DataServiceId"); got != e.base+path+"/alice" {
		t.Errorf("DataServiceId %q", got)
	}
	u := users.get(node, "alice")
	if !u.IsAdmin || u.Password != "pw" || u.SSHPublicKey != "ssh-ed25519 AAAA" || u.Expiry.Before(before.Add(23*time.Hour)) || u.Expiry.After(time.Now().Add(25*time.Hour)) {
		t.Errorf("added %+v, want an admin with the password, the key and an expiry a day away", u)
	}
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	want(t, e.do("PUT", path+"/alice", nil, map[string]any{"expiryTime": expiry}), http.StatusOK, "")
	if u := users.get(node, "alice"); u.Password != "" || u.SSHPublicKey != "" || !u.Expiry.Equal(expiry) {
		t.Errorf("updated %+v, want no password, no key, the expiry given", u)
	}
	want(t, e.do("DELETE", path+"/alice", nil, nil), http.StatusOK, "")
	if u := users.get(node, "alice"); u != (rest.NodeUser{}) {
		t.Errorf("after delete: %+v", u)
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"no name", "POST", path, map[string]any{"password": "x"}, 400, api.CodeMissingRequiredProperty},
		{"unknown property", "POST", path, map[string]any{"name": "bob", "shell": "zsh"}, 400, api.CodeInvalidRequestBody},
		{"invalid name", "POST", path, map[string]any{"name": "Bad"}, 400, api.CodeInvalidPropertyValue},
		{"a user of the machine", "POST", path, map[string]any{"name": "root"}, 409, api.CodeNodeUserExists},
		{"update one never added", "PUT", path + "/carol", map[string]any{}, 404, api.CodeNodeUserNotFound},
		{"delete one never added", "DELETE", path + "/carol", nil, 404, api.CodeNodeUserNotFound},
		{"no such node", "POST", "/pools/p1/nodes/nope/users", map[string]any{"name": "bob"}, 404, api.CodeNodeNotFound},
		{"no such pool", "DELETE", "/pools/nope/nodes/" + node + "/users/bob", nil, 404, api.CodePoolNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, e.do(tc.method, tc.path, nil, tc.body), tc.status, tc.code)
		})
	}
	if users.get(node, "bob") != (rest.NodeUser{}) {
		t.Error("a refused request added bob")
	}
}
