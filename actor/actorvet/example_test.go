package actorvet_test

import (
	"fmt"
	"log"

	"corral/actor/actorvet"
)

func ExampleCheck() {
	findings, err := actorvet.Check("testdata/example")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range findings {
		fmt.Println(f)
	}
	// Output:
	// testdata/example/actor.go:9:11: [clock] time.Now: actors must not read the clock or wait on timers; use ctx.Now or ctx.StartTimer
	// testdata/example/actor.go:10:2: [go-statement] go statement: actors must not start goroutines; use ctx.Create or ctx.Send
}
