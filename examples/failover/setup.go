package failover

import (
	"fmt"

	"corral/actor"
	"corral/actor/systest"
)

// Setup builds the program on rt, which is the production engine or the tester's Sim: the two
// monitors, the [Store] on the default host, host "server" whose boot function creates the
// [Server], and the [Client]s. With bug set, the server has the planted bug described in the
// package documentation.
func Setup(rt actor.Runtime, bug bool) error {
	if err := rt.Monitor(&ExactlyOnce{}); err != nil {
		return err
	}
	if err := rt.Monitor(&AllAcknowledged{want: clients * requestsPerClient}); err != nil {
		return err
	}
	store, err := rt.Create(string(storeID), &Store{})
	if err != nil {
		return err
	}
	// The boot function runs at every (re)start of the host. It captures only the store's ID,
	// never a Server: each incarnation starts from nothing and rebuilds from the store.
	err = rt.AddHost(serverHost, func(h actor.Host) error {
		_, err := h.Create(string(serverID), &Server{store: store, bug: bug})
		return err
	})
	if err != nil {
		return err
	}
	for i := 1; i <= clients; i++ {
		if _, err := rt.Create(fmt.Sprintf("client%d", i), &Client{server: serverID, jobs: requestsPerClient}); err != nil {
			return err
		}
	}
	return nil
}

// TesterConfig returns the budget that suits this program: long enough runs for every request to
// be acknowledged after retries and restarts, and the faults the scenario is about. Iterations,
// Strategy and Seed are left to the caller.
//
// Crashes: 2 lets a crash hit a server that is itself recovering from a crash. Delays: 1 lets the
// tester hold back one message and deliver it late, which is how a crashed server's last write can
// reach the store after its replacement has loaded; the store's epoch fencing is what makes that
// harmless, and the tester checks it.
func TesterConfig() systest.Config {
	return systest.Config{
		MaxSteps: 1000,
		Faults:   systest.Faults{Crashes: 2, Delays: 1},
	}
}
