package systest

import (
	"strings"
	"testing"

	"corral/actor"
)

type poke struct{}

// poker sends a poke to "worker" when it starts, if to is set.
type poker struct{ to bool }

func (p poker) Define(m *actor.Machine) {
	m.State("Run", actor.OnEntry(func(ctx *actor.Context) {
		if p.to {
			ctx.Send("worker", poke{})
		}
	}))
}

// idle takes pokes and does nothing.
type idle struct{}

func (idle) Define(m *actor.Machine) { m.State("Idle", actor.Ignore[poke]()) }

// A host's later life does not know the actors its earlier life had, as a restarted process
// starts with an empty engine: a send from the host to one of them before the host creates it
// again is a send to an unknown actor. From another host the same send is merely lost.
func TestRestartedHostForgetsItsActors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fromSameHost  bool
		wantUnknownID bool
	}{
		{"from the restarted host", true, true},
		{"from another host", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(Config{Iterations: 20, Seed: 1}, func(s *Sim) {
				boots := 0
				s.AddHost("h", func(h actor.Host) error {
					boots++
					if boots == 1 {
						_, err := h.Create("worker", idle{})
						return err
					}
					_, err := h.Create("boss", poker{to: tc.fromSameHost})
					return err
				})
				s.CrashHost("h")
				s.RestartHost("h")
				if !tc.fromSameHost {
					s.Create("outsider", poker{to: true})
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			b := rep.Bug
			switch {
			case tc.wantUnknownID && (b == nil || b.Kind != actor.FailUnknownID || b.Actor != "boss" || !strings.Contains(b.Message, "died in a crash of host h")):
				t.Fatalf("want boss's send to the worker of the host's earlier life reported, got %v", b)
			case !tc.wantUnknownID && b != nil:
				t.Fatalf("a send from another host to an actor its host's crash killed is lost, not a bug: %v", b)
			}
		})
	}
}
