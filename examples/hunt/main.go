// Command hunt measures how fast each strategy of the systematic tester finds the planted bug of
// each example: for every example and strategy it runs independent hunts (one per seed), each with
// an iteration budget, and prints in how many hunts the bug was found, and the mean iterations and
// seconds it took (the hunt's own time, until the bug), as a Markdown table. The README's table
// comes from it:
//
//	go run ./examples/hunt -seeds 20 -iterations 1000
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/examples/failover"
	"corral/examples/heartbeat"
	"corral/examples/raft"
)

type example struct {
	name   string
	setup  func(rt actor.Runtime, bug bool) error
	config func() systest.Config
}

var examples = []example{
	{"heartbeat", heartbeat.Setup, heartbeat.TesterConfig},
	{"failover", failover.Setup, failover.TesterConfig},
	{"raft", raft.Setup, raft.TesterConfig},
}

func main() {
	seeds := flag.Int("seeds", 20, "independent hunts per example and strategy")
	iterations := flag.Int("iterations", 1000, "iteration budget of each hunt")
	strategies := flag.String("strategies", "random,pct:3,pct:10,fair,portfolio", "comma-separated strategies")
	only := flag.String("examples", "", "comma-separated examples (default: all)")
	flag.Parse()

	fmt.Printf("hunts of at most %d iterations, %d seeds each\n\n", *iterations, *seeds)
	fmt.Println("| example | strategy | found | mean iterations | max iterations | mean seconds |")
	fmt.Println("| --- | --- | --- | --- | --- | --- |")
	for _, ex := range examples {
		if *only != "" && !contains(*only, ex.name) {
			continue
		}
		for _, strat := range strings.Split(*strategies, ",") {
			found, iters, maxIters := 0, 0, 0
			var elapsed time.Duration
			for seed := 1; seed <= *seeds; seed++ {
				cfg := ex.config()
				cfg.Iterations, cfg.Strategy, cfg.Seed = *iterations, strat, uint64(seed)
				cfg.NoShrink, cfg.NoCoverage = true, true
				cfg.TraceDir = os.TempDir()
				rep, err := systest.Run(cfg, systest.Program(func(rt actor.Runtime) error { return ex.setup(rt, true) }))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				if rep.Bug != nil {
					found++
					n := rep.Bug.Iteration + 1
					iters += n
					maxIters = max(maxIters, n)
					elapsed += rep.Elapsed
				}
			}
			meanIters, meanSecs, maxStr := "-", "-", "-"
			if found > 0 {
				meanIters = fmt.Sprintf("%.1f", float64(iters)/float64(found))
				meanSecs = fmt.Sprintf("%.3f", elapsed.Seconds()/float64(found))
				maxStr = fmt.Sprint(maxIters)
			}
			fmt.Printf("| %s | %s | %d/%d | %s | %s | %s |\n", ex.name, strat, found, *seeds, meanIters, maxStr, meanSecs)
		}
	}
}

func contains(list, name string) bool {
	for _, s := range strings.Split(list, ",") {
		if s == name {
			return true
		}
	}
	return false
}
