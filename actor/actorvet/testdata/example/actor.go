// Package example is an actor that breaks two rules.
package example

import "time"

type greeter struct{ last time.Time }

func (g *greeter) receive(msg string) {
	g.last = time.Now()
	go println(msg)
}
