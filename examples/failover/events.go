package failover

import (
	"time"

	"corral/actor"
)

// Submit asks the server to enqueue Job. A client resends the very same Submit (same ReqID) until
// it is acknowledged, so the server may receive it several times, before and after a crash, and
// must apply it exactly once.
type Submit struct {
	ReqID  string   // unique per request; the idempotency key
	Client actor.ID // where the Ack goes
	Job    string   // the work to enqueue
}

// Ack tells a client that its request is durably applied: its job is the Seq-th record of the
// store. A retried request is acknowledged again with the same Seq.
type Ack struct {
	ReqID string
	Seq   int
}

// RetryTimeout is the client's timer event: the request ReqID has not been acknowledged in time
// and is sent again.
type RetryTimeout struct{ ReqID string }

// Load is what a freshly booted server sends the store: give me your contents, and a new epoch.
type Load struct{ From actor.ID }

// Snapshot is the store's answer to a [Load]: every record so far, and the epoch that the loading
// server must put on its writes. Each Load opens a new epoch, which fences off the writes of every
// earlier incarnation of the server.
type Snapshot struct {
	Epoch   int
	Records []Record // a copy: events must not change after they are sent
}

// Record is one durable job in the store. It carries the request id, so that a restarted server
// can tell which requests it has already applied.
type Record struct {
	Seq    int // 1, 2, 3, ... in the order the store applied them
	ReqID  string
	Client actor.ID
	Job    string
}

// Append asks the store to add a job. The store applies it only if Epoch is the current epoch.
type Append struct {
	Epoch  int
	From   actor.ID // the server, for the reply
	ReqID  string
	Client actor.ID
	Job    string
}

// Appended is the store's reply to an accepted [Append]: the job is durable as record Seq.
type Appended struct {
	Epoch  int
	ReqID  string
	Client actor.ID
	Seq    int
}

// Applied is announced by the store each time it durably applies a request, for [ExactlyOnce].
type Applied struct {
	ReqID string
	Seq   int
}

// Acknowledged is announced by a client when it receives the first Ack of its current request,
// for [ExactlyOnce] and [AllAcknowledged].
type Acknowledged struct {
	ReqID string
	Seq   int
}

// The shape of the program that Setup builds.
const (
	serverHost = "server"
	serverID   = actor.ID("server")
	storeID    = actor.ID("store")

	clients           = 2 // client actors, "client1" and "client2"
	requestsPerClient = 3 // requests each client makes, one after the other

	// retryAfter is the period of a client's retry timer (a tick). It is short so that the
	// production test (TestEngine) recovers from a crash in milliseconds; under the tester time is
	// virtual and its value does not matter, only that the timer may fire at any moment.
	retryAfter = 2 * time.Millisecond
	// maxBackoff caps a client's backoff, in ticks.
	maxBackoff = 8
)
