package rest_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
	"corral/service/model"
)

// jobWithStats and taskWithStats are a job and a task as $expand=stats shows them.
type (
	jobWithStats struct {
		batch.Job
		Stats *batch.JobStatistics `json:"stats"`
	}
	taskWithStats struct {
		batch.Task
		Stats *batch.TaskStatistics `json:"stats"`
	}
)

// $expand=stats adds each job's and task's statistics to Job - Get and List and Task - Get and
// List, and nothing else does; a job's statistics go on counting a task deleted from it.
func TestExpandStats(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("st", 1)), http.StatusCreated, e.base+"/pools/st")
	created(t, e.do("POST", "/jobs", nil, job("sj", "st", false)), http.StatusCreated, e.base+"/jobs/sj")
	want(t, e.do("POST", "/jobs/sj/addtaskcollection", nil, map[string]any{"value": []batch.Task{task("a"), task("b")}}), http.StatusOK, "")
	eventually(t, "both tasks completed", func() string {
		var c batch.TaskCountsResult
		e.do("GET", "/jobs/sj/taskcounts", nil, nil).decode(t, &c)
		if c.TaskCounts.Completed != 2 {
			return fmt.Sprintf("%+v", c.TaskCounts)
		}
		return ""
	})
	stats := url.Values{"$expand": {"stats"}}

	// Without $expand there is no stats property.
	for _, path := range []string{"/jobs/sj", "/jobs", "/jobs/sj/tasks/a", "/jobs/sj/tasks"} {
		r := e.do("GET", path, nil, nil)
		want(t, r, http.StatusOK, "")
		if json.Valid(r.body) && containsKey(r.body, "stats") {
			t.Errorf("GET %s without $expand: %s", path, r.body)
		}
	}

	jobStats := func() batch.JobStatistics {
		t.Helper()
		var j jobWithStats
		r := e.do("GET", "/jobs/sj", stats, nil)
		want(t, r, http.StatusOK, "")
		r.decode(t, &j)
		if j.Stats == nil || j.Stats.URL != e.base+"/jobs/sj" || !j.Stats.StartTime.Equal(j.CreationTime) || j.Stats.LastUpdateTime.Before(j.Stats.StartTime) {
			t.Fatalf("job with stats = %s", r.body)
		}
		return *j.Stats
	}
	if s := jobStats(); s.NumSucceededTasks != 2 || s.NumFailedTasks != 0 || s.ReadIOps != 0 || s.WallClockTime < 0 {
		t.Errorf("job stats = %+v, want 2 tasks succeeded", s)
	}

	// Lists: every entity has its stats, also when $select names them.
	var jobs api.Page[jobWithStats]
	e.do("GET", "/jobs", url.Values{"$expand": {"stats"}, "$select": {"id,stats"}}, nil).decode(t, &jobs)
	if len(jobs.Value) != 1 || jobs.Value[0].ID != "sj" || jobs.Value[0].Stats == nil || jobs.Value[0].Stats.NumSucceededTasks != 2 || jobs.Value[0].PoolInfo.PoolID != "" {
		t.Errorf("jobs with stats = %+v", jobs.Value)
	}
	var tasks api.Page[taskWithStats]
	e.do("GET", "/jobs/sj/tasks", stats, nil).decode(t, &tasks)
	if len(tasks.Value) != 2 {
		t.Fatalf("tasks with stats = %+v", tasks.Value)
	}
	for _, tk := range tasks.Value {
		s := tk.Stats
		if s == nil || s.URL != e.base+"/jobs/sj/tasks/"+tk.ID || !s.StartTime.Equal(tk.CreationTime) || s.WaitTime < 0 ||
			s.WaitTime.Std() != tk.ExecutionInfo.StartTime.Sub(tk.CreationTime) {
			t.Errorf("task %s with stats: %+v, created %v, started %v", tk.ID, s, tk.CreationTime, tk.ExecutionInfo.StartTime)
		}
	}
	var one taskWithStats
	e.do("GET", "/jobs/sj/tasks/a", stats, nil).decode(t, &one)
	if one.Stats == nil || one.Stats.URL != e.base+"/jobs/sj/tasks/a" {
		t.Errorf("task a with stats = %+v", one)
	}

	// A deleted task still counts in its job's statistics.
	want(t, e.do("DELETE", "/jobs/sj/tasks/a", nil, nil), http.StatusOK, "")
	if s := jobStats(); s.NumSucceededTasks != 2 {
		t.Errorf("job stats after a task's deletion = %+v, want 2 tasks succeeded", s)
	}

	// A job schedule's statistics count the tasks of its jobs.
	sch := map[string]any{"id": "ss", "schedule": map[string]any{}, "jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "st"}}}
	want(t, e.do("POST", "/jobschedules", nil, sch), http.StatusCreated, "")
	eventually(t, "the schedule's job", func() string {
		if r := e.do("GET", "/jobs/ss:job-1", nil, nil); r.status != http.StatusOK {
			return string(r.body)
		}
		return ""
	})
	want(t, e.do("POST", "/jobs/ss:job-1/addtaskcollection", nil, map[string]any{"value": []batch.Task{task("x"), task("y"), task("z")}}), http.StatusOK, "")
	eventually(t, "the schedule's tasks completed", func() string {
		var c batch.TaskCountsResult
		e.do("GET", "/jobs/ss:job-1/taskcounts", nil, nil).decode(t, &c)
		if c.TaskCounts.Completed != 3 {
			return fmt.Sprintf("%+v", c.TaskCounts)
		}
		return ""
	})
	if r := e.do("GET", "/jobschedules/ss", nil, nil); containsKey(r.body, "stats") {
		t.Errorf("GET /jobschedules/ss without $expand: %s", r.body)
	}
	var s scheduleWithStats
	r := e.do("GET", "/jobschedules/ss", stats, nil)
	want(t, r, http.StatusOK, "")
	r.decode(t, &s)
	if s.Stats == nil || s.Stats.URL != e.base+"/jobschedules/ss" || s.Stats.NumSucceededTasks != 3 || !s.Stats.StartTime.Equal(s.CreationTime) {
		t.Errorf("job schedule with stats = %s", r.body)
	}
	var scheds api.Page[scheduleWithStats]
	e.do("GET", "/jobschedules", stats, nil).decode(t, &scheds)
	if len(scheds.Value) != 1 || scheds.Value[0].Stats == nil || scheds.Value[0].Stats.NumSucceededTasks != 3 {
		t.Errorf("job schedules with stats = %+v", scheds.Value)
	}
}

// scheduleWithStats is a job schedule as $expand=stats shows it.
type scheduleWithStats struct {
	batch.JobSchedule
	Stats *batch.JobStatistics `json:"stats"`
}

// containsKey reports whether the JSON body (an object, or a list page) has key at its top
// level or in one of its values.
func containsKey(body []byte, key string) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return false
	}
	if _, ok := obj[key]; ok {
		return true
	}
	var items []map[string]json.RawMessage
	if json.Unmarshal(obj["value"], &items) == nil {
		for _, it := range items {
			if _, ok := it[key]; ok {
				return true
			}
		}
	}
	return false
}

// Pool usage: a node of the provider model (model.Cores cores) counts in the usage metrics of
// the hours it is up, by its cores, until it leaves the pool; the lifetime statistics have the
// same total, of dedicated nodes. (How a node's time is split over hours is batch's
// TestNodeUpUntil; the service's monitor poolUsageCountsNodes checks the totals under the
// tester.)
func TestPoolUsage(t *testing.T) {
	e := newEnv(t, envOptions{})
	type metrics = api.Page[batch.PoolUsageMetrics]
	usage := func(q url.Values) []batch.PoolUsageMetrics {
		t.Helper()
		var m metrics
		r := e.do("GET", "/poolusagemetrics", q, nil)
		want(t, r, http.StatusOK, "")
		r.decode(t, &m)
		return m.Value
	}
	lifetime := func() batch.PoolStatistics {
		t.Helper()
		var s batch.PoolStatistics
		r := e.do("GET", "/lifetimepoolstats", nil, nil)
		want(t, r, http.StatusOK, "")
		r.decode(t, &s)
		if s.URL != e.base+"/lifetimepoolstats" || s.UsageStats == nil || s.ResourceStats == nil ||
			*s.ResourceStats != (batch.ResourceStatistics{StartTime: s.StartTime, LastUpdateTime: s.LastUpdateTime}) {
			t.Fatalf("lifetime pool statistics = %s", r.body)
		}
		return s
	}
	if got := usage(nil); len(got) != 0 {
		t.Errorf("usage metrics before any node = %+v", got)
	}
	if s := lifetime(); s.UsageStats.DedicatedCoreTime != 0 {
		t.Errorf("lifetime pool statistics before any node = %+v", s.UsageStats)
	}

	created(t, e.do("POST", "/pools", nil, pool("up", 1)), http.StatusCreated, e.base+"/pools/up")
	var up time.Time
	eventually(t, "the node up", func() string {
		var nodes api.Page[batch.Node]
		r := e.do("GET", "/pools/up/nodes", nil, nil)
		r.decode(t, &nodes)
		if len(nodes.Value) != 1 || nodes.Value[0].State != batch.NodeIdle {
			return string(r.body)
		}
		up = nodes.Value[0].AllocationTime
		return ""
	})
	time.Sleep(20 * time.Millisecond)
	cores := float64(model.Cores)
	hour := up.UTC().Truncate(time.Hour)
	all := url.Values{"starttime": {hour.Format(time.RFC3339)}, "endtime": {hour.Add(2 * time.Hour).Format(time.RFC3339)}}
	total := func(ms []batch.PoolUsageMetrics) float64 {
		sum := 0.0
		for _, m := range ms {
			if (m.PoolID != "up" && m.PoolID != "up2") || m.VMSize != "local" || !m.EndTime.Equal(m.StartTime.Add(time.Hour)) || m.StartTime.Before(hour) || m.StartTime.Minute() != 0 {
				t.Errorf("usage metric = %+v", m)
			}
			sum += m.TotalCoreHours
		}
		return sum
	}
	t0 := time.Now()
	got := usage(all)
	t1 := time.Now()
	if sum := total(got); len(got) == 0 || sum < cores*t0.Sub(up).Hours() || sum > cores*t1.Sub(up).Hours() {
		t.Fatalf("usage metrics = %+v: want %.9f to %.9f core hours in all", got, cores*t0.Sub(up).Hours(), cores*t1.Sub(up).Hours())
	}
	// By default, the latest interval only; $filter and paging.
	if d := usage(nil); len(d) != 1 || !d[0].StartTime.Equal(time.Now().UTC().Truncate(time.Hour)) {
		t.Errorf("default usage metrics = %+v", d)
	}
	if f := usage(url.Values{"starttime": all["starttime"], "endtime": all["endtime"], "$filter": {"poolId eq 'other'"}}); len(f) != 0 {
		t.Errorf("usage metrics of another pool = %+v", f)
	}
	created(t, e.do("POST", "/pools", nil, pool("up2", 1)), http.StatusCreated, e.base+"/pools/up2")
	eventually(t, "two pools in the usage metrics", func() string {
		if ms := usage(url.Values{"$filter": {"startswith(poolId, 'up')"}}); len(ms) != 2 {
			return fmt.Sprint(ms)
		}
		return ""
	})
	var first metrics
	r := e.do("GET", "/poolusagemetrics", url.Values{"maxresults": {"1"}}, nil)
	r.decode(t, &first)
	if len(first.Value) != 1 || first.Value[0].PoolID != "up" {
		t.Fatalf("first page of usage metrics = %s", r.body)
	}
	var second metrics
	e.follow(r.nextLink(t)).decode(t, &second)
	if len(second.Value) != 1 || second.Value[0].PoolID != "up2" || second.NextLink != "" {
		t.Errorf("second page of usage metrics = %+v", second)
	}

	// The nodes leave: their time stops counting, and stays counted.
	for _, p := range []string{"up", "up2"} {
		want(t, e.do("POST", "/pools/"+p+"/resize", nil, map[string]any{"targetDedicatedNodes": 0}), http.StatusAccepted, "")
	}
	eventually(t, "the pools without nodes", func() string {
		for _, p := range []string{"up", "up2"} {
			var nodes api.Page[batch.Node]
			r := e.do("GET", "/pools/"+p+"/nodes", nil, nil)
			if r.decode(t, &nodes); len(nodes.Value) != 0 {
				return string(r.body)
			}
		}
		return ""
	})
	before, life := usage(all), lifetime()
	time.Sleep(20 * time.Millisecond)
	after, later := usage(all), lifetime()
	if len(before) == 0 || len(after) != len(before) || total(after) != total(before) {
		t.Errorf("usage metrics after the nodes left: %+v, then %+v", before, after)
	}
	if later.UsageStats.DedicatedCoreTime != life.UsageStats.DedicatedCoreTime || !later.StartTime.Equal(up) {
		t.Errorf("lifetime pool statistics after the nodes left: %+v, then %+v (first node up at %v)", life, later, up)
	}
	if h := life.UsageStats.DedicatedCoreTime.Std().Hours(); !near(h, total(after)) {
		t.Errorf("lifetime dedicated core time %.9f hours, usage metrics %.9f core hours", h, total(after))
	}

	// $expand=stats on Pool - Get and List: each pool's own dedicated core time, as its usage
	// metrics count it; no stats without $expand.
	poolHours := map[string]float64{}
	for _, m := range after {
		poolHours[m.PoolID] += m.TotalCoreHours
	}
	if r := e.do("GET", "/pools/up", nil, nil); containsKey(r.body, "stats") {
		t.Errorf("GET /pools/up without $expand: %s", r.body)
	}
	var one poolWithStats
	r = e.do("GET", "/pools/up", url.Values{"$expand": {"stats"}}, nil)
	want(t, r, http.StatusOK, "")
	r.decode(t, &one)
	if s := one.Stats; s == nil || s.URL != e.base+"/pools/up" || !s.StartTime.Equal(one.CreationTime) || s.UsageStats == nil ||
		!near(s.UsageStats.DedicatedCoreTime.Std().Hours(), poolHours["up"]) || poolHours["up"] == 0 {
		t.Errorf("pool up with stats: %s; its usage metrics count %.9f core hours", r.body, poolHours["up"])
	}
	var list api.Page[poolWithStats]
	e.do("GET", "/pools", url.Values{"$expand": {"stats"}}, nil).decode(t, &list)
	if len(list.Value) != 2 {
		t.Fatalf("pools with stats: %+v", list.Value)
	}
	for _, p := range list.Value {
		if p.Stats == nil || !near(p.Stats.UsageStats.DedicatedCoreTime.Std().Hours(), poolHours[p.ID]) {
			t.Errorf("pool %s with stats: %+v, want %.9f core hours", p.ID, p.Stats, poolHours[p.ID])
		}
	}
}

// poolWithStats is a pool as $expand=stats shows it.
type poolWithStats struct {
	batch.Pool
	Stats *batch.PoolStatistics `json:"stats"`
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
