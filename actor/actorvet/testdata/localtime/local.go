// Package localtime names things time without importing package time as time.
package localtime

type clock struct{}

func (clock) Now() int  { return 0 }
func (clock) Sleep(int) {}

// This file does not import "time", so time is just a variable.
func useLocal() int {
	time := clock{}
	time.Sleep(1)
	return time.Now()
}
