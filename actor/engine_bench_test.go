package actor_test

import (
	"context"
	"strconv"
	"testing"

	"corral/actor"
)

type token struct{ hops int }

// ringNode forwards each token to the next node until its hops run out.
type ringNode struct{ next actor.ID }

func (r *ringNode) Define(m *actor.Machine) {
	m.State("Forward", actor.On(func(ctx *actor.Context, t token) {
		if t.hops > 0 {
			ctx.Send(r.next, token{t.hops - 1})
		}
	}))
}

// BenchmarkEngineMessages reports the production engine's throughput in messages per second:
// tokens travel around a ring of actors, many at once, each hop one message.
func BenchmarkEngineMessages(b *testing.B) {
	for _, shape := range []struct{ nodes, tokens int }{{2, 1}, {8, 256}, {64, 1024}} {
		b.Run("nodes="+strconv.Itoa(shape.nodes)+"/tokens="+strconv.Itoa(shape.tokens), func(b *testing.B) {
			e := actor.NewEngine(actor.Options{Logger: quiet()})
			for i := range shape.nodes {
				next := actor.ID("n" + strconv.Itoa((i+1)%shape.nodes))
				if _, err := e.Create("n"+strconv.Itoa(i), &ringNode{next: next}); err != nil {
					b.Fatal(err)
				}
			}
			hops := b.N/shape.tokens + 1
			b.ResetTimer()
			for i := range shape.tokens {
				if err := e.Send(actor.ID("n"+strconv.Itoa(i%shape.nodes)), token{hops}); err != nil {
					b.Fatal(err)
				}
			}
			if err := e.WaitIdle(context.Background()); err != nil {
				b.Fatal(err)
			}
			msgs := float64(shape.tokens * (hops + 1))
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
			if f := e.Failures(); len(f) != 0 {
				b.Fatal(f)
			}
		})
	}
}

// BenchmarkChannelRing is the reference for BenchmarkEngineMessages: the same rings, tokens and
// hops, with one goroutine per node and a buffered Go channel as its mailbox, no actor runtime.
func BenchmarkChannelRing(b *testing.B) {
	for _, shape := range []struct{ nodes, tokens int }{{2, 1}, {8, 256}, {64, 1024}} {
		b.Run("nodes="+strconv.Itoa(shape.nodes)+"/tokens="+strconv.Itoa(shape.tokens), func(b *testing.B) {
			hops := b.N/shape.tokens + 1
			inbox := make([]chan int, shape.nodes)
			for i := range inbox {
				inbox[i] = make(chan int, shape.tokens)
			}
			done := make(chan struct{}, shape.tokens)
			for i := range shape.nodes {
				go func() {
					next := inbox[(i+1)%shape.nodes]
					for h := range inbox[i] {
						if h > 0 {
							next <- h - 1
						} else {
							done <- struct{}{}
						}
					}
				}()
			}
			b.ResetTimer()
			for i := range shape.tokens {
				inbox[i%shape.nodes] <- hops
			}
			for range shape.tokens {
				<-done
			}
			b.StopTimer()
			for _, c := range inbox {
				close(c)
			}
			b.ReportMetric(float64(shape.tokens*(hops+1))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
