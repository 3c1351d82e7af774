package heartbeat

import "corral/actor"

// Events between the detector and the nodes.
type (
	// ping asks a node whether it is alive, in probe round Round.
	ping struct{ Round int }
	// pong is a node's answer to the ping of round Round.
	pong struct {
		Round int
		Node  actor.ID
	}
	// crash makes a node halt: the driver's way of injecting a failure.
	crash struct{}
)

// Events between the detector and the timer. Every request carries a sequence number chosen by the
// detector, and every answer names the request it answers.
type (
	// startTimer asks the timer to send timeout{Seq} after Ticks ticks.
	startTimer struct{ Seq, Ticks int }
	// cancelTimer asks the timer to cancel request Seq.
	cancelTimer struct{ Seq int }
	// timeout says that the time of request Seq has elapsed.
	timeout struct{ Seq int }
	// cancelSuccess says that request Seq was cancelled before it fired: no timeout will come.
	cancelSuccess struct{ Seq int }
	// cancelFailure says that request Seq could not be cancelled: it had already fired.
	cancelFailure struct{ Seq int }
	// tick is the timer's own runtime timer event.
	tick struct{}
)

// Events from the detector to its client, the driver.
type (
	// allAnswered says that every node the detector considers alive answered round Round.
	allAnswered struct{ Round int }
	// nodeFailed says that the detector has declared Node failed. It never takes that back.
	nodeFailed struct{ Node actor.ID }
)

// Events announced to the monitor.
type (
	// nodeHalted is announced by the driver when it crashes Node.
	nodeHalted struct{ Node actor.ID }
	// failureDeclared is announced by the detector when it declares Node failed.
	failureDeclared struct{ Node actor.ID }
)
