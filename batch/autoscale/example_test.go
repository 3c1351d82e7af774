package autoscale_test

import (
	"fmt"
	"time"

	"corral/batch/autoscale"
)

func Example() {
	f, err := autoscale.Parse(`
		// The pending-tasks formula of Azure's doc.
		startingNumberOfVMs = 1;
		maxNumberofVMs = 25;
		pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
		pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
		$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
		$NodeDeallocationOption = taskcompletion;`)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)
	var pending []autoscale.Sample // a sample every 30 seconds, oldest first
	for i, n := range []float64{4, 6, 8, 10, 12, 14} {
		pending = append(pending, autoscale.Sample{Time: now.Add(time.Duration(i-5) * 30 * time.Second), Value: n})
	}
	r, err := f.Evaluate(autoscale.Env{
		Now:     now,
		Samples: map[autoscale.Metric][]autoscale.Sample{autoscale.PendingTasks: pending},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.TargetDedicatedNodes, r.NodeDeallocationOption)
	fmt.Println(r.Results)
	// Output:
	// 9 taskcompletion
	// $TargetDedicatedNodes=9;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;maxNumberofVMs=25;pendingTaskSamplePercent=100;pendingTaskSamples=9;startingNumberOfVMs=1
}

func ExampleError() {
	_, err := autoscale.Parse("a = 1;\nb = 2;\nc = foo(3);")
	fmt.Println(err)
	if e, ok := err.(*autoscale.Error); ok {
		fmt.Println(e.Code, e.Line, e.Col)
	}
	// Output:
	// line 3, column 5: unknown function "foo"
	// AutoScalingFormulaSyntaxError 3 5
}
