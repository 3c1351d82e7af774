package service

import (
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store/memstore"
)

// fileFailuresFinal asserts how an attempt whose files failed ends its task (the agent models
// fail resource file downloads and output file uploads now and then): once its result is
// recorded, the task completes (it is not retried, whatever maxTaskRetryCount says), and its
// dependents may run as its exit conditions say: preProcessingError (block, by default) for a
// download, fileUploadError (satisfy, in these tasks) for an upload, the same after a restart
// rebuilds the task from the store.
type fileFailuresFinal struct {
	failed   map[string]bool // attempt id → an upload failed (else a download)
	expected map[string]bool // task life → Satisfies, once a file failure is recorded
}

func (f *fileFailuresFinal) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e model.AttemptFileFailed) {
			if f.failed == nil {
				f.failed, f.expected = map[string]bool{}, map[string]bool{}
			}
			f.failed[e.AttemptID] = e.Upload
		}),
		actor.On(func(ctx *actor.Context, e AttemptRecorded) {
			upload, ok := f.failed[e.ResultAttempt]
			if !ok || e.ResultAttempt != e.AttemptID {
				return
			}
			f.expected[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = upload
		}),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			_, done := f.expected[k]
			ctx.Assert(!done, "task %s started again (%s) after a file failure was recorded", k, e.AttemptID)
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			f.check(ctx, taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq), e.Satisfies)
		}),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			if e.Completed {
				f.check(ctx, taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq), e.Satisfies)
			}
		}),
	)
}

func (f *fileFailuresFinal) check(ctx *actor.Context, life string, satisfies bool) {
	want, ok := f.expected[life]
	if !ok {
		return
	}
	ctx.Assert(satisfies == want, "task %s completed after a file failure with satisfies %v, want %v", life, satisfies, want)
}

// filesDiamond is diamond with resource files and output files on every task, whose upload
// errors satisfy their dependents.
func filesDiamond() []batch.Task {
	tasks := diamond()
	for i := range tasks {
		tasks[i].ResourceFiles = []batch.ResourceFile{{HTTPURL: "https://storage.invalid/in?sig=S", FilePath: "in"}}
		tasks[i].OutputFiles = []batch.OutputFile{{
			FilePattern:   "*.out",
			Destination:   &batch.OutputFileDestination{Container: &batch.OutputFileBlobContainerDestination{ContainerURL: "https://storage.invalid/out?sig=S"}},
			UploadOptions: &batch.OutputFileUploadOptions{UploadCondition: batch.UploadOnCompletion},
		}}
		tasks[i].ExitConditions = &batch.ExitConditions{FileUploadError: &batch.ExitOptions{DependencyAction: batch.DependencySatisfy}}
	}
	return tasks
}

// Attempts fail to download resource files and to upload output files, among other failures
// and crashes of the service: each such attempt completes its task, never retried, with the
// dependency action of its kind of failure.
func TestServiceFileFailures(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, func(s *systest.Sim) {
		s.Monitor(&fileFailuresFinal{})
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		cfg := Config{Store: memstore.New(), Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		runService(s, cfg, model.Provider{ExitCodes: []int{0, 1}, FileFailures: true, Failures: true})
		two, slots, yes, retries := int32(2), int32(2), true, int32(2)
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &slots}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
				Constraints: &batch.JobConstraints{MaxTaskRetryCount: &retries}}},
			AddTasks{JobID: "j1", Tasks: filesDiamond()},
		))
	})
}
