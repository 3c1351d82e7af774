package batch

// Add counts t into c: its state (preparing counts as running, as Azure does), and for a completed
// task its result; the slot counts add the task's requiredSlots. The job manager keeps counts
// incrementally with Add and [TaskCountsResult.Remove] around every state change.
func (c *TaskCountsResult) Add(t Task) { c.count(t, 1) }

// Remove takes t out of c; it undoes [TaskCountsResult.Add] for the same task.
func (c *TaskCountsResult) Remove(t Task) { c.count(t, -1) }

// count adds sign times t to the counts.
func (c *TaskCountsResult) count(t Task, sign int32) {
	slots := int32(t.Slots()) * sign
	switch t.State {
	case TaskActive, "":
		c.TaskCounts.Active += sign
		c.TaskSlotCounts.Active += slots
	case TaskPreparing, TaskRunning:
		c.TaskCounts.Running += sign
		c.TaskSlotCounts.Running += slots
	case TaskCompleted:
		c.TaskCounts.Completed += sign
		c.TaskSlotCounts.Completed += slots
		if t.ExecutionInfo != nil {
			switch t.ExecutionInfo.Result {
			case ResultSuccess:
				c.TaskCounts.Succeeded += sign
				c.TaskSlotCounts.Succeeded += slots
			case ResultFailure:
				c.TaskCounts.Failed += sign
				c.TaskSlotCounts.Failed += slots
			}
		}
	}
}

// Tally counts tasks from scratch.
func Tally(tasks []Task) TaskCountsResult {
	var c TaskCountsResult
	for i := range tasks {
		c.Add(tasks[i])
	}
	return c
}

// Merge adds d to c. d may hold negative counts: what a change of tasks does to the counts, made
// with Add and Remove on a zero TaskCountsResult.
func (c *TaskCountsResult) Merge(d TaskCountsResult) {
	c.TaskCounts.merge(d.TaskCounts)
	c.TaskSlotCounts.merge(d.TaskSlotCounts)
}

func (c *TaskCounts) merge(d TaskCounts) {
	c.Active += d.Active
	c.Running += d.Running
	c.Completed += d.Completed
	c.Succeeded += d.Succeeded
	c.Failed += d.Failed
}
