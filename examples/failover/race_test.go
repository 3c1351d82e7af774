//go:build race

package failover

import "time"

// crashWindow is the span in which TestEngine crashes the server. Under the race detector the
// six requests take about 250µs to be acknowledged without a crash (measured on 2 CPUs).
const crashWindow = 400 * time.Microsecond
