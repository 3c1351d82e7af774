package service

import (
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
)

// retriesFollowLimit asserts that every retry decision follows the maxTaskRetryCount in force
// when the attempt's end is recorded: the job's until a Task - Update is recorded, then the
// update's. A task whose attempt failed with retries left starts again and does not complete
// before it has; one whose attempt failed with none left completes and does not start again.
type retriesFollowLimit struct {
	jobLimit int32
	limit    map[string]int32 // by task life
	failures map[string]int32 // failed attempts recorded
	retry    map[string]bool  // the latest recorded end was a failure with a retry left
	final    map[string]bool  // the latest recorded end was a failure with no retry left
}

func (m *retriesFollowLimit) init() {
	if m.limit == nil {
		m.limit, m.failures = map[string]int32{}, map[string]int32{}
		m.retry, m.final = map[string]bool{}, map[string]bool{}
	}
}

func (m *retriesFollowLimit) limitOf(k string) int32 {
	if l, ok := m.limit[k]; ok {
		return l
	}
	return m.jobLimit
}

func (m *retriesFollowLimit) Define(d *actor.Machine) {
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskUpdated) {
			m.init()
			m.limit[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = e.MaxTaskRetryCount
		}),
		actor.On(func(ctx *actor.Context, e AttemptRecorded) {
			m.init()
			k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			m.retry[k], m.final[k] = false, false
			if e.ExitCode == 0 {
				return
			}
			m.failures[k]++
			if batch.ShouldRetry(m.failures[k]-1, m.limitOf(k)) {
				m.retry[k] = true
			} else {
				m.final[k] = true
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			m.init()
			k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			ctx.Assert(!m.final[k], "task %s started again (attempt %s) after %d failures with maxTaskRetryCount %d", k, e.AttemptID, m.failures[k], m.limitOf(k))
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			m.init()
			k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			ctx.Assert(!m.retry[k], "task %s completed after %d failures with maxTaskRetryCount %d: a retry was left", k, m.failures[k], m.limitOf(k))
		}),
		actor.Ignore[TaskAdded](), actor.Ignore[TaskRecovered]())
}

// Tasks that may fail, of a job that allows no retries, have their maxTaskRetryCount raised
// while the job runs (and one lowered back): every retry decided after an update follows it,
// through crashes of the service and lost messages, and every task still completes once.
func TestTaskUpdateRetryLimit(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&retriesFollowLimit{})
		dagService(s, model.Provider{ExitCodes: []int{0, 1}})
		two, yes := int32(2), true
		three, none := int32(3), int32(0)
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			pause{Max: 2 * time.Second},
			UpdateTask{JobID: "j1", TaskID: "t1", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &three}},
			UpdateTask{JobID: "j1", TaskID: "t4", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &three}},
			UpdateTask{JobID: "j1", TaskID: "t6", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &three}},
			pause{Max: 2 * time.Second},
			UpdateTask{JobID: "j1", TaskID: "t6", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &none}},
		))
	})
}
