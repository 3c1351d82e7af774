package rest

import (
	"strings"
	"time"

	"corral/api"
	"corral/api/odata"
	"corral/batch"
	"corral/service"
)

// jobLifetimeStats is Job - Get All Lifetime Statistics: GET /lifetimejobstats, the usage of
// every task the account's jobs have had (service.LifetimeJobStatistics), counted when asked.
func (s *Server) jobLifetimeStats(c *call) *api.Error {
	st, err := service.LifetimeJobStatistics(c.ctx, s.st, c.now)
	if err != nil {
		return c.readError("lifetime job statistics", err)
	}
	st.URL = c.base + "/lifetimejobstats"
	return c.writeEntity("jobstats/@Element", st, "", zeroTime)
}

// poolLifetimeStats is Pool - Get All Lifetime Statistics: GET /lifetimepoolstats, the core
// time of the dedicated nodes of every pool the account has had (service.LifetimePoolStatistics),
// counted when asked. Its resourceStats hold no measurements: Corral does not measure nodes'
// CPU, memory, disk or network (see batch.ResourceStatistics).
func (s *Server) poolLifetimeStats(c *call) *api.Error {
	st, err := service.LifetimePoolStatistics(c.ctx, s.st, c.now)
	if err != nil {
		return c.readError("lifetime pool statistics", err)
	}
	st.URL = c.base + "/lifetimepoolstats"
	return c.writeEntity("poolstats/@Element", st, "", zeroTime)
}

// usageMetricsProps are the properties of Pool - List Usage Metrics' entities; $filter compares
// poolId, vmSize, startTime, endTime and totalCoreHours.
var usageMetricsProps = entityProps(batch.PoolUsageMetrics{}, odata.Properties{
	"poolId":         {Kind: odata.String},
	"vmSize":         {Kind: odata.String, Ops: []odata.Op{odata.Eq, odata.Ne}},
	"startTime":      {Kind: odata.Time},
	"endTime":        {Kind: odata.Time},
	"totalCoreHours": {Kind: odata.Number},
})

// listPoolUsageMetrics is Pool - List Usage Metrics: GET /poolusagemetrics, each pool's core
// hours in each hourly aggregation interval (service.PoolUsageMetrics) that starts from the
// interval holding starttime up to endtime; each defaults to the bounds of the latest interval,
// the one holding now, which Corral counts up to now (Azure lists intervals only once complete,
// some hours late). $filter selects pools and intervals; maxresults and $skiptoken page.
func (s *Server) listPoolUsageMetrics(c *call) *api.Error {
	limit, e := api.MaxResults(c.r, api.MaxResultsLimit)
	if e != nil {
		return e
	}
	after := ""
	if tok := api.SkipToken(c.r); tok != "" {
		if after, e = api.DecodeSkipToken(tok); e != nil {
			return e
		}
	}
	from, to, e := usageWindow(c, c.now)
	if e != nil {
		return e
	}
	ms, err := service.PoolUsageMetrics(c.ctx, s.st, from, to, c.now)
	if err != nil {
		return c.readError("pool usage metrics", err)
	}
	var items []batch.PoolUsageMetrics
	next := ""
	for _, m := range ms {
		if k := usagePosition(m); k <= after || !c.matches(m) {
			continue
		}
		if len(items) == limit {
			next = usagePosition(items[len(items)-1])
			break
		}
		items = append(items, m)
	}
	return writeList(c, "poolusagemetrics", items, next)
}

// usagePosition is where a usage metric is in the list's order, for $skiptoken.
func usagePosition(m batch.PoolUsageMetrics) string {
	return m.StartTime.UTC().Format(time.RFC3339) + "/" + batch.IDKey(m.PoolID)
}

// usageWindow reads Pool - List Usage Metrics' starttime and endtime: the start of the interval
// that holds starttime, and endtime, each by default a bound of the interval that holds now.
func usageWindow(c *call, now time.Time) (from, to time.Time, e *api.Error) {
	latest := now.UTC().Truncate(batch.UsageInterval)
	from, to = latest, latest.Add(batch.UsageInterval)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"starttime", &from}, {"endtime", &to}} {
		v, ok := api.QueryValue(c.r, p.name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		if err != nil {
			if t, err = time.Parse(time.RFC1123, strings.TrimSpace(v)); err != nil {
				return from, to, api.InvalidQueryValue(p.name, v, "The value is not a date-time (RFC 3339).")
			}
		}
		*p.dst = t
	}
	from = from.UTC().Truncate(batch.UsageInterval)
	if !to.After(from) {
		v, _ := api.QueryValue(c.r, "endtime")
		return from, to, api.InvalidQueryValue("endtime", v, "endtime must be after starttime, or after the start of the latest aggregation interval when starttime is not given.")
	}
	return from, to, nil
}

// jobView is a job as Job - Get and Job - List show it: with its statistics when $expand=stats
// asks for them. Stats is not a property of the request models (jobAddModel), so a request
// that sends it is refused.
type jobView struct {
	batch.Job
	Stats *batch.JobStatistics `json:"stats,omitempty"`
}

// taskView is a task as Task - Get and Task - List show it, as jobView is for jobs.
type taskView struct {
	batch.Task
	Stats *batch.TaskStatistics `json:"stats,omitempty"`
}

// jobViews returns jobs as the request shows them: with their stats if it expands them.
func (c *call) jobViews(jobs []batch.Job) ([]jobView, *api.Error) {
	out := make([]jobView, len(jobs))
	for i, j := range jobs {
		out[i].Job = j
		if !c.q.stats {
			continue
		}
		st, err := service.JobStats(c.ctx, c.s.st, j.ID, c.now)
		if err != nil {
			return nil, c.readError("job statistics", err)
		}
		st.URL = c.jobURL(j.ID)
		out[i].Stats = &st
	}
	return out, nil
}

// taskViews returns a job's tasks as the request shows them: with their stats if it expands
// them.
func (c *call) taskViews(jobID string, tasks []batch.Task) ([]taskView, *api.Error) {
	out := make([]taskView, len(tasks))
	for i, t := range tasks {
		out[i].Task = t
	}
	if !c.q.stats || len(tasks) == 0 {
		return out, nil
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	stats, err := service.TaskStats(c.ctx, c.s.st, jobID, ids, c.now)
	if err != nil {
		return nil, c.readError("task statistics", err)
	}
	for i := range out {
		if st, ok := stats[out[i].ID]; ok {
			st.URL = c.taskURL(jobID, out[i].ID)
			out[i].Stats = &st
		}
	}
	return out, nil
}

// poolView is a pool as Pool - Get and Pool - List show it, as jobView is for jobs.
type poolView struct {
	batch.Pool
	Stats *batch.PoolStatistics `json:"stats,omitempty"`
}

// poolViews returns pools as the request shows them: with their stats if it expands them.
func (c *call) poolViews(pools []batch.Pool) ([]poolView, *api.Error) {
	out := make([]poolView, len(pools))
	for i, p := range pools {
		out[i].Pool = p
	}
	if !c.q.stats || len(pools) == 0 {
		return out, nil
	}
	stats, err := service.PoolStats(c.ctx, c.s.st, pools, c.now)
	if err != nil {
		return nil, c.readError("pool statistics", err)
	}
	for i := range out {
		st := stats[out[i].ID]
		st.URL = c.poolURL(out[i].ID)
		out[i].Stats = &st
	}
	return out, nil
}

// scheduleView is a job schedule as Job Schedule - Get and List show it, as jobView is for jobs.
type scheduleView struct {
	batch.JobSchedule
	Stats *batch.JobStatistics `json:"stats,omitempty"`
}

// scheduleViews returns job schedules as the request shows them: with their stats if it
// expands them.
func (c *call) scheduleViews(scheds []batch.JobSchedule) ([]scheduleView, *api.Error) {
	out := make([]scheduleView, len(scheds))
	for i, sch := range scheds {
		out[i].JobSchedule = sch
		if !c.q.stats {
			continue
		}
		st, err := service.JobScheduleStats(c.ctx, c.s.st, sch.ID, c.now)
		if err != nil {
			return nil, c.readError("job schedule statistics", err)
		}
		st.URL = c.scheduleURL(sch.ID)
		out[i].Stats = &st
	}
	return out, nil
}
