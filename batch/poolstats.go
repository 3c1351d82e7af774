package batch

import "time"

// UsageInterval is the aggregation interval of Pool - List Usage Metrics: an hour, as on
// Azure, starting on the hour (UTC).
const UsageInterval = time.Hour

// PoolUsageMetrics is Azure's PoolUsageMetrics: the core time a pool's nodes were up in one
// aggregation interval [StartTime, EndTime), in hours of one core.
type PoolUsageMetrics struct {
	PoolID         string    `json:"poolId"`
	StartTime      time.Time `json:"startTime"`
	EndTime        time.Time `json:"endTime"`
	VMSize         string    `json:"vmSize"`
	TotalCoreHours float64   `json:"totalCoreHours"`
}

// UsageStatistics is Azure's UsageStatistics: the core time of the dedicated nodes of every
// pool, from StartTime to LastUpdateTime.
type UsageStatistics struct {
	StartTime         time.Time `json:"startTime"`
	LastUpdateTime    time.Time `json:"lastUpdateTime"`
	DedicatedCoreTime Duration  `json:"dedicatedCoreTime"`
}

// ResourceStatistics is Azure's ResourceStatistics: what nodes used of their CPUs, memory,
// disks and network. Corral does not measure nodes' resources (only what each task's process
// used, in JobStatistics), so every figure is 0: the object is there, with its time range,
// because Azure's SDKs read its figures as required numbers.
type ResourceStatistics struct {
	StartTime        time.Time `json:"startTime"`
	LastUpdateTime   time.Time `json:"lastUpdateTime"`
	AvgCPUPercentage float64   `json:"avgCPUPercentage"`
	AvgMemoryGiB     float64   `json:"avgMemoryGiB"`
	PeakMemoryGiB    float64   `json:"peakMemoryGiB"`
	AvgDiskGiB       float64   `json:"avgDiskGiB"`
	PeakDiskGiB      float64   `json:"peakDiskGiB"`
	DiskReadIOps     int64     `json:"diskReadIOps,string"`
	DiskWriteIOps    int64     `json:"diskWriteIOps,string"`
	DiskReadGiB      float64   `json:"diskReadGiB"`
	DiskWriteGiB     float64   `json:"diskWriteGiB"`
	NetworkReadGiB   float64   `json:"networkReadGiB"`
	NetworkWriteGiB  float64   `json:"networkWriteGiB"`
}

// PoolStatistics is Azure's PoolStatistics, for Pool - Get All Lifetime Statistics: the usage
// of every pool the account has had, from StartTime to LastUpdateTime. ResourceStats holds no
// measurements (see [ResourceStatistics]).
type PoolStatistics struct {
	URL            string              `json:"url"`
	StartTime      time.Time           `json:"startTime"`
	LastUpdateTime time.Time           `json:"lastUpdateTime"`
	UsageStats     *UsageStatistics    `json:"usageStats,omitempty"`
	ResourceStats  *ResourceStatistics `json:"resourceStats,omitempty"`
}

// CoreTime is what a pool's nodes were up for, in one aggregation interval or over a
// lifetime: the time of every core (Total), and of the cores of dedicated nodes (Dedicated).
type CoreTime struct {
	Total     time.Duration `json:"total,omitempty"`
	Dedicated time.Duration `json:"dedicated,omitempty"`
}

// Add returns the sum of c and d.
func (c CoreTime) Add(d CoreTime) CoreTime {
	return CoreTime{Total: c.Total + d.Total, Dedicated: c.Dedicated + d.Dedicated}
}

// NodeUp is how a node counts towards its pool's usage while it is up: since when, how many
// cores it has, and whether it is dedicated.
type NodeUp struct {
	Since     time.Time `json:"since"`
	Cores     int       `json:"cores"`
	Dedicated bool      `json:"dedicated,omitempty"`
	VMSize    string    `json:"vmSize,omitempty"`
}

// Until splits the core time of a node up from n.Since to end over the aggregation intervals
// it spans, by the start of each interval, in order: nothing if end is not after n.Since. A
// node of fewer than one core counts one.
func (n NodeUp) Until(end time.Time) []IntervalCoreTime {
	if !end.After(n.Since) {
		return nil
	}
	cores := time.Duration(max(n.Cores, 1))
	var out []IntervalCoreTime
	for from := n.Since; from.Before(end); {
		start := from.UTC().Truncate(UsageInterval)
		to := start.Add(UsageInterval)
		if end.Before(to) {
			to = end
		}
		c := CoreTime{Total: to.Sub(from) * cores}
		if n.Dedicated {
			c.Dedicated = c.Total
		}
		out = append(out, IntervalCoreTime{Start: start, CoreTime: c})
		from = to
	}
	return out
}

// IntervalCoreTime is core time in the aggregation interval that starts at Start.
type IntervalCoreTime struct {
	Start time.Time
	CoreTime
}
