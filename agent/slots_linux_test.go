package agent

import (
	"slices"
	"testing"

	"corral/agent/protocol"
)

// TestClientHoldsStartsForSlots: with NodeSlots, the Client runs at most that many slots'
// attempts and holds the rest, in order; a held attempt is listed as running, is given back
// unstarted by KillTask with IfQueued (reported NotStarted), and starts the moment a slot frees;
// IfQueued leaves an attempt that has started alone.
func TestClientHoldsStartsForSlots(t *testing.T) {
	f, srv := newFakeServer(t)
	c, ctx := runScripted(t, srv.URL+"/", "node-secret", t.TempDir())
	f.next(ctx, func(fakeRequest) bool { return true }) // the Hello

	f.answers <- `{"epoch":"e1","seq":3,"commands":[
		{"type":"startTask","attemptId":"a1","jobId":"j1","taskId":"t1","commandLine":"sleep 30","nodeSlots":1,"slots":1},
		{"type":"startTask","attemptId":"a2","jobId":"j1","taskId":"t2","commandLine":"true","nodeSlots":1,"slots":1},
		{"type":"startTask","attemptId":"a3","jobId":"j1","taskId":"t3","commandLine":"true","nodeSlots":1,"slots":1}]}`
	f.next(ctx, hasReport(func(s protocol.TaskStarted) bool { return s.AttemptID == "a1" }))
	if got := c.running(); !slices.Equal(got, []string{"a1", "a2", "a3"}) {
		t.Errorf("running = %v, want a1 (started) and a2, a3 (held)", got)
	}
	if c.runner.Has("a2") || c.runner.Has("a3") {
		t.Fatalf("an attempt beyond the node's one slot started")
	}

	// a3 is given back unstarted; a1, which runs, is not.
	f.answers <- `{"epoch":"e1","seq":5,"commands":[
		{"type":"killTask","attemptId":"a3","ifQueued":true},
		{"type":"killTask","attemptId":"a1","ifQueued":true}]}`
	isA3 := func(tr protocol.TaskResult) bool { return tr.AttemptID == "a3" }
	r := f.next(ctx, hasReport(isA3))
	if res := reportWhere(r, isA3); !res.NotStarted || res.Killed || res.Error != "" {
		t.Errorf("result of the attempt given back = %+v, want NotStarted only", res)
	}
	if !c.runner.Has("a1") {
		t.Fatalf("KillTask with IfQueued stopped an attempt that had started")
	}
	if got := c.running(); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("running = %v, want a1 and a2", got)
	}

	// When a1 ends, a2 starts at once, with no command from the server.
	f.answers <- `{"epoch":"e1","seq":6,"commands":[{"type":"killTask","attemptId":"a1"}]}`
	// a1's result (killed) may come in the same request: a2's is looked for by its id.
	isA2 := func(tr protocol.TaskResult) bool { return tr.AttemptID == "a2" }
	r = f.next(ctx, hasReport(isA2))
	if res := reportWhere(r, isA2); res.NotStarted || res.ExitCode != 0 || res.Error != "" {
		t.Errorf("result of the held attempt = %+v, want it run and exit 0", res)
	}
	if got := c.running(); len(got) != 0 {
		t.Errorf("running = %v after every attempt ended, want none", got)
	}
}
