//go:build !race

package failover

import "time"

// crashWindow is the span in which TestEngine crashes the server. Without the race detector the
// six requests take about 80µs to be acknowledged without a crash (measured on 2 CPUs).
const crashWindow = 120 * time.Microsecond
