package autoscale

import (
	"testing"
	"time"
)

// pendingTasksFormula is the "Pending tasks" sample formula of Azure's doc
// (learn.microsoft.com/azure/batch/batch-automatic-scaling, "Sample autoscale formulas").
const pendingTasksFormula = `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;
`

// BenchmarkParseEvaluatePendingTasks parses and evaluates the doc's pending-tasks formula against
// an hour of samples, as the pool manager does once per evaluation interval.
//
//	go test -run XXX -bench ParseEvaluate -benchmem ./batch/autoscale
func BenchmarkParseEvaluatePendingTasks(b *testing.B) {
	now := time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)
	env := Env{Now: now, Samples: map[Metric][]Sample{PendingTasks: makeSeries(120, 30*time.Second, now, 12)}}
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(pendingTasksFormula)
		if err != nil {
			b.Fatal(err)
		}
		r, err := f.Evaluate(env)
		if err != nil || r.TargetDedicatedNodes != 12 {
			b.Fatal(r, err)
		}
	}
}
