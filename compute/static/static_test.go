package static_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/actor"
	"corral/compute"
	"corral/compute/computetest"
	"corral/compute/static"
	"corral/internal/testlog"
	"corral/store/memstore"
)

const limit = 10 * time.Second

// creds issues numbered credentials and remembers the last of each node.
type creds struct {
	mu   sync.Mutex
	n    int
	last map[string]string
}

func (c *creds) IssueNode(_ context.Context, pool, node string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.last == nil {
		c.last = map[string]string{}
	}
	c.last[pool+"/"+node] = fmt.Sprintf("cred-%d", c.n)
	return c.last[pool+"/"+node], nil
}

type world struct {
	eng   *actor.Engine
	st    *memstore.Store
	creds *creds
	p     *static.Provider
	req   *computetest.Requester
}

func newWorld(t *testing.T, st *memstore.Store) *world {
	t.Helper()
	eng := actor.NewEngine(actor.Options{Logger: testlog.New(t), OnFailure: func(f *actor.Failure) { t.Errorf("actor failure: %v", f) }})
	w := &world{eng: eng, st: st, creds: &creds{}}
	p, err := static.New(static.Config{Runtime: eng, Store: st, Credentials: w.creds, NotifyTo: computetest.RequesterID, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	w.p = p
	if _, err := eng.Create(string(compute.ProviderID), p.Actor()); err != nil {
		t.Fatal(err)
	}
	w.req = computetest.Start(t, eng)
	return w
}

func create(req, pool, node string) compute.CreateVM {
	return compute.CreateVM{RequestID: req, ReplyTo: computetest.RequesterID, PoolID: pool, NodeID: node, Dedicated: true}
}

func TestLendAndGiveBack(t *testing.T) {
	st := memstore.New()
	w := newWorld(t, st)

	// A node asked for before any machine joined waits; cancelled, it fails.
	w.req.Send(create("c0", "p1", "n0"))
	w.req.Send(create("c0b", "p1", "n0")) // the same node again: one creation
	list := w.req.Ask(compute.ListVMs{RequestID: "l0", ReplyTo: computetest.RequesterID, PoolID: "p1"}, limit).(compute.VMList)
	if len(list.Nodes) != 1 || list.Nodes[0].NodeID != "n0" {
		t.Fatalf("list with a creation waiting: %+v", list.Nodes)
	}
	w.req.Send(compute.DeleteVM{RequestID: "d0", ReplyTo: computetest.RequesterID, PoolID: "p1", NodeID: "n0"})
	if ev, ok := w.req.Next(limit).(compute.VMFailed); !ok || ev.RequestID != "c0" || !strings.Contains(ev.Reason, "cancelled") {
		t.Fatalf("the waiting creation, deleted: %#v", ev)
	}
	if _, ok := w.req.Next(limit).(compute.VMDeleted); !ok {
		t.Fatal("no VMDeleted for the waiting node")
	}

	m1, s1, err := w.p.Join("p1", "host-1\x1b[31m")
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := w.p.Join("p2", "host-3")

	// A machine waiting for a node learns it as soon as it is lent.
	type result struct {
		a   static.Assignment
		err error
	}
	waiting := make(chan result, 1)
	go func() {
		a, err := w.p.Await(context.Background(), "p1", m1, s1, limit)
		waiting <- result{a, err}
	}()
	time.Sleep(20 * time.Millisecond) // let it wait; the test passes either way
	if ev, ok := w.req.Ask(create("c1", "p1", "n1"), limit).(compute.VMCreated); !ok || ev.NodeID != "n1" {
		t.Fatalf("create n1: %#v", ev)
	}
	r := <-waiting
	if r.err != nil || r.a.NodeID != "n1" || r.a.Credential != w.creds.last["p1/n1"] {
		t.Fatalf("the first machine's assignment: %+v, %v", r.a, r.err)
	}
	// The pool's only machine is lent: n2 waits until a machine joins.
	w.req.Send(create("c2", "p1", "n2"))
	m2, s2, _ := w.p.Join("p1", "host-2")
	if ev, ok := w.req.Next(limit).(compute.VMCreated); !ok || ev.NodeID != "n2" || ev.RequestID != "c2" {
		t.Fatalf("create n2 once a machine joined: %#v", ev)
	}
	// Repeats: the same request id gets the same answer; the same node again is VMCreated.
	if ev, ok := w.req.Ask(create("c2", "p1", "n2"), limit).(compute.VMCreated); !ok || ev.NodeID != "n2" {
		t.Fatalf("repeated c2: %#v", ev)
	}
	if ev, ok := w.req.Ask(create("c4", "p1", "n2"), limit).(compute.VMCreated); !ok || ev.NodeID != "n2" {
		t.Fatalf("create n2 again: %#v", ev)
	}
	// n3 waits; giving n1 back serves it, after n1's VMDeleted.
	w.req.Send(create("c3", "p1", "n3"))
	list = w.req.Ask(compute.ListVMs{RequestID: "l1", ReplyTo: computetest.RequesterID, PoolID: "p1"}, limit).(compute.VMList)
	if len(list.Nodes) != 3 || list.Nodes[0].NodeID != "n1" || list.Nodes[1].NodeID != "n2" || list.Nodes[2].NodeID != "n3" {
		t.Fatalf("list: %+v", list.Nodes)
	}
	if _, ok := w.req.Ask(compute.DeleteVM{RequestID: "d1", ReplyTo: computetest.RequesterID, PoolID: "p1", NodeID: "n1"}, limit).(compute.VMDeleted); !ok {
		t.Fatal("delete n1")
	}
	if ev, ok := w.req.Next(limit).(compute.VMCreated); !ok || ev.NodeID != "n3" {
		t.Fatalf("the waiting n3 after n1 was given back: %#v", ev)
	}
	if a, err := w.p.Await(context.Background(), "p1", m1, s1, 0); err != nil || a.NodeID != "n3" {
		t.Fatalf("the given-back machine: %+v, %v; want lent to n3", a, err)
	}

	// Credentials: a wrong secret, another pool's machine, a machine of another pool.
	for _, c := range []struct{ pool, id, secret string }{{"p1", m1, s2}, {"p2", m1, s1}, {"p1", other, s1}, {"p1", "m-x", s1}} {
		if _, err := w.p.Await(context.Background(), c.pool, c.id, c.secret, 0); !errors.Is(err, static.ErrRefused) {
			t.Errorf("Await(%s, %s, wrong secret): %v, want ErrRefused", c.pool, c.id, err)
		}
	}

	// A restart keeps the inventory and the loans.
	w2 := newWorld(t, st)
	ms := w2.p.Machines("p1")
	if len(ms) != 2 || ms[0].Hash != "" || strings.ContainsRune(ms[0].Hostname+ms[1].Hostname, 0x1b) {
		t.Fatalf("machines after a restart: %+v", ms)
	}
	lent := map[string]string{}
	for _, m := range ms {
		lent[m.ID] = m.NodeID
	}
	if lent[m1] != "n3" || lent[m2] != "n2" {
		t.Errorf("loans after a restart: %v", lent)
	}

	// Forgetting a lent machine reports its node lost and refuses it.
	if err := w2.p.Forget("p1", m2); err != nil {
		t.Fatal(err)
	}
	if ev, ok := w2.req.Next(limit).(compute.VMLost); !ok || ev.NodeID != "n2" {
		t.Fatalf("after forgetting the machine of n2: %#v", ev)
	}
	if _, err := w2.p.Await(context.Background(), "p1", m2, s2, 0); !errors.Is(err, static.ErrRefused) {
		t.Errorf("a forgotten machine: %v, want ErrRefused", err)
	}
	if err := w2.p.Forget("p1", m2); !errors.Is(err, static.ErrUnknownMachine) {
		t.Errorf("forget twice: %v", err)
	}
}
