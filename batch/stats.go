package batch

import "time"

// Usage is what a task's attempts used, summed over the attempts whose end its node reported:
// the kernel's CPU time and storage bytes of each attempt's process, its wall-clock time from
// start to end, and the retries it made after failures. It is Corral's, kept with the task; the
// API shows it through JobStatistics.
type Usage struct {
	UserCPU    time.Duration `json:"userCpu,omitempty"`
	KernelCPU  time.Duration `json:"kernelCpu,omitempty"`
	WallClock  time.Duration `json:"wallClock,omitempty"`
	ReadBytes  int64         `json:"readBytes,omitempty"`
	WriteBytes int64         `json:"writeBytes,omitempty"`
	Retries    int64         `json:"retries,omitempty"`
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		UserCPU: u.UserCPU + v.UserCPU, KernelCPU: u.KernelCPU + v.KernelCPU, WallClock: u.WallClock + v.WallClock,
		ReadBytes: u.ReadBytes + v.ReadBytes, WriteBytes: u.WriteBytes + v.WriteBytes, Retries: u.Retries + v.Retries,
	}
}

// TaskTally is what JobStatistics counts of tasks: their usage, how many completed with success
// and with failure, and their wait times (creation to the start of the latest attempt).
type TaskTally struct {
	Usage     Usage         `json:"usage,omitzero"`
	Succeeded int64         `json:"succeeded,omitempty"`
	Failed    int64         `json:"failed,omitempty"`
	Wait      time.Duration `json:"wait,omitempty"`
}

// Add counts task t, whose attempts used u.
func (c *TaskTally) Add(t Task, u Usage) {
	c.Usage = c.Usage.Add(u)
	if x := t.ExecutionInfo; x != nil {
		if !x.StartTime.IsZero() && !t.CreationTime.IsZero() && x.StartTime.After(t.CreationTime) {
			c.Wait += x.StartTime.Sub(t.CreationTime)
		}
		if t.State == TaskCompleted {
			switch x.Result {
			case ResultSuccess:
				c.Succeeded++
			case ResultFailure:
				c.Failed++
			}
		}
	}
}

// Merge adds the counts of d to c.
func (c *TaskTally) Merge(d TaskTally) {
	c.Usage = c.Usage.Add(d.Usage)
	c.Succeeded += d.Succeeded
	c.Failed += d.Failed
	c.Wait += d.Wait
}

// JobStatistics is Azure's JobStatistics: for Job - Get All Lifetime Statistics, the usage of
// every task the account's jobs have had, and for a job's stats ($expand=stats on Job - Get
// and Job - List), that of the job's tasks, from StartTime to LastUpdateTime. Corral measures no
// I/O operations (the kernel's accounting of a finished process has its bytes only), so
// ReadIOps and WriteIOps are 0. Its 64-bit counts are JSON strings, as OData writes Edm.Int64
// and as Azure's Go SDK (api-version 2024-07-01.20.0) reads them; the JavaScript SDK reads a
// number from either.
type JobStatistics struct {
	URL               string    `json:"url"`
	StartTime         time.Time `json:"startTime"`
	LastUpdateTime    time.Time `json:"lastUpdateTime"`
	UserCPUTime       Duration  `json:"userCPUTime"`
	KernelCPUTime     Duration  `json:"kernelCPUTime"`
	WallClockTime     Duration  `json:"wallClockTime"`
	ReadIOps          int64     `json:"readIOps,string"`
	WriteIOps         int64     `json:"writeIOps,string"`
	ReadIOGiB         float64   `json:"readIOGiB"`
	WriteIOGiB        float64   `json:"writeIOGiB"`
	NumSucceededTasks int64     `json:"numSucceededTasks,string"`
	NumFailedTasks    int64     `json:"numFailedTasks,string"`
	NumTaskRetries    int64     `json:"numTaskRetries,string"`
	WaitTime          Duration  `json:"waitTime"`
}

// Statistics turns a tally into Azure's JobStatistics over since to now (the URL left to the
// API).
func (c TaskTally) Statistics(since, now time.Time) JobStatistics {
	const gib = 1 << 30
	return JobStatistics{
		StartTime: since, LastUpdateTime: now,
		UserCPUTime: Duration(c.Usage.UserCPU), KernelCPUTime: Duration(c.Usage.KernelCPU), WallClockTime: Duration(c.Usage.WallClock),
		ReadIOGiB: float64(c.Usage.ReadBytes) / gib, WriteIOGiB: float64(c.Usage.WriteBytes) / gib,
		NumSucceededTasks: c.Succeeded, NumFailedTasks: c.Failed, NumTaskRetries: c.Usage.Retries,
		WaitTime: Duration(c.Wait),
	}
}

// TaskStatistics is Azure's TaskStatistics, a task's stats with $expand=stats on Task - Get
// and Task - List: what its attempts used from StartTime (its creation) to LastUpdateTime.
// Usage counts the attempts whose end its node reported (a running attempt counts once it
// ends); ReadIOps and WriteIOps are 0, as in JobStatistics.
type TaskStatistics struct {
	URL            string    `json:"url"`
	StartTime      time.Time `json:"startTime"`
	LastUpdateTime time.Time `json:"lastUpdateTime"`
	UserCPUTime    Duration  `json:"userCPUTime"`
	KernelCPUTime  Duration  `json:"kernelCPUTime"`
	WallClockTime  Duration  `json:"wallClockTime"`
	ReadIOps       int64     `json:"readIOps,string"`
	WriteIOps      int64     `json:"writeIOps,string"`
	ReadIOGiB      float64   `json:"readIOGiB"`
	WriteIOGiB     float64   `json:"writeIOGiB"`
	WaitTime       Duration  `json:"waitTime"`
}

// TaskStats returns the statistics of task t, whose attempts used u, at now (the URL left to
// the API): from the task's creation (now if it has none, or a later one) to now, its wait the
// time from its creation to the start of its latest attempt.
func TaskStats(t Task, u Usage, now time.Time) TaskStatistics {
	var c TaskTally
	c.Add(t, u)
	since := t.CreationTime
	if since.IsZero() || since.After(now) {
		since = now
	}
	s := c.Statistics(since, now)
	return TaskStatistics{
		StartTime: s.StartTime, LastUpdateTime: s.LastUpdateTime,
		UserCPUTime: s.UserCPUTime, KernelCPUTime: s.KernelCPUTime, WallClockTime: s.WallClockTime,
		ReadIOGiB: s.ReadIOGiB, WriteIOGiB: s.WriteIOGiB, WaitTime: s.WaitTime,
	}
}
