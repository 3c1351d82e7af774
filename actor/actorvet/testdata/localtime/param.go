package localtime

import stdtime "time"

// This file imports "time" as stdtime, so the parameter time is not the package.
func useParam(time clock) stdtime.Duration {
	time.Sleep(1)
	return stdtime.Duration(time.Now()) * stdtime.Second
}
