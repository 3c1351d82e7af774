package rest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"corral/api"
	"corral/api/odata"
	"corral/batch"
)

// query is what a list or get asks with OData: $filter (lists), $select and $expand. Nil
// fields ask for everything; stats says $expand asked for the entities' statistics.
type query struct {
	filter *odata.Filter
	sel    *odata.Select
	stats  bool
}

// odataOp is what one operation allows: the properties of its entities, whether it takes
// $filter (lists do; gets take $select only, as in Azure), and the values of $expand it acts
// on (none: $expand is refused).
type odataOp struct {
	props  odata.Properties
	filter bool
	expand []string
}

// expandStats is the $expand value that asks for an entity's statistics, its "stats"
// property (Azure's associated entity of jobs, tasks, pools and job schedules). Corral acts on
// it for jobs and tasks; Azure documents no other value for these operations.
const expandStats = "stats"

// The properties $filter may compare, per entity, as Azure's "OData filters in Azure Batch"
// lists them for Pool - List, Job - List, Task - List, Compute Node - List, Job Schedule - List
// and Job - List From Job Schedule (for the properties Corral's entities have); every
// top-level property of the entity may be selected.
var (
	poolProps = entityProps(batch.Pool{}, odata.Properties{
		expandStats:                     {Kind: odata.SelectOnly},
		"id":                            {Kind: odata.String},
		"state":                         {Kind: odata.Enum, Values: []string{"active", "deleting"}},
		"stateTransitionTime":           {Kind: odata.Time},
		"allocationState":               {Kind: odata.Enum, Values: []string{"steady", "resizing", "stopping"}},
		"allocationStateTransitionTime": {Kind: odata.Time},
		"creationTime":                  {Kind: odata.Time},
		"lastModified":                  {Kind: odata.Time},
		"vmSize":                        {Kind: odata.String, Ops: []odata.Op{odata.Eq, odata.Ne}},
		"enableAutoScale":               {Kind: odata.Bool},
		"enableInterNodeCommunication":  {Kind: odata.Bool},
	})
	jobProps = entityProps(batch.Job{}, odata.Properties{
		expandStats:               {Kind: odata.SelectOnly},
		"id":                      {Kind: odata.String},
		"state":                   {Kind: odata.Enum, Values: []string{"active", "disabling", "disabled", "enabling", "terminating", "completed", "deleting"}},
		"stateTransitionTime":     {Kind: odata.Time},
		"creationTime":            {Kind: odata.Time},
		"lastModified":            {Kind: odata.Time},
		"priority":                {Kind: odata.Int},
		"executionInfo/startTime": {Kind: odata.Time},
		"executionInfo/endTime":   {Kind: odata.Time},
		"executionInfo/poolId":    {Kind: odata.String},
	})
	taskProps = entityProps(batch.Task{}, odata.Properties{
		expandStats:                     {Kind: odata.SelectOnly},
		"id":                            {Kind: odata.String},
		"state":                         {Kind: odata.Enum, Values: []string{"active", "preparing", "running", "completed"}},
		"stateTransitionTime":           {Kind: odata.Time},
		"creationTime":                  {Kind: odata.Time},
		"lastModified":                  {Kind: odata.Time},
		"executionInfo/startTime":       {Kind: odata.Time},
		"executionInfo/endTime":         {Kind: odata.Time},
		"executionInfo/exitCode":        {Kind: odata.Int},
		"executionInfo/result":          {Kind: odata.Enum, Values: []string{"success", "failure"}},
		"executionInfo/retryCount":      {Kind: odata.Int},
		"executionInfo/requeueCount":    {Kind: odata.Int},
		"nodeInfo/nodeId":               {Kind: odata.String},
		"constraints/maxTaskRetryCount": {Kind: odata.Int},
	})
	scheduleProps = entityProps(batch.JobSchedule{}, odata.Properties{
		expandStats:              {Kind: odata.SelectOnly},
		"id":                     {Kind: odata.String},
		"state":                  {Kind: odata.Enum, Values: []string{"active", "completed", "disabled", "terminating", "deleting"}},
		"stateTransitionTime":    {Kind: odata.Time},
		"creationTime":           {Kind: odata.Time},
		"lastModified":           {Kind: odata.Time},
		"executionInfo/endTime":  {Kind: odata.Time},
		"schedule/doNotRunUntil": {Kind: odata.Time},
		"schedule/doNotRunAfter": {Kind: odata.Time},
	})
	// scheduleJobProps are the properties of Job - List From Job Schedule's filters.
	scheduleJobProps = entityProps(batch.Job{}, odata.Properties{
		expandStats:               {Kind: odata.SelectOnly},
		"state":                   {Kind: odata.Enum, Values: []string{"active", "disabling", "disabled", "enabling", "terminating", "completed", "deleting"}},
		"stateTransitionTime":     {Kind: odata.Time},
		"creationTime":            {Kind: odata.Time},
		"lastModified":            {Kind: odata.Time},
		"executionInfo/startTime": {Kind: odata.Time},
		"executionInfo/endTime":   {Kind: odata.Time},
		"executionInfo/poolId":    {Kind: odata.String},
	})
	nodeProps = entityProps(batch.Node{}, odata.Properties{
		"state": {Kind: odata.Enum, Values: []string{"idle", "rebooting", "reimaging", "running", "unusable", "creating",
			"starting", "waitingforstarttask", "starttaskfailed", "unknown", "leavingpool", "offline", "preempted", "upgradingos"}},
		"stateTransitionTime":     {Kind: odata.Time},
		"lastBootTime":            {Kind: odata.Time},
		"allocationTime":          {Kind: odata.Time},
		"startTaskInfo/state":     {Kind: odata.Enum, Values: []string{"running", "completed"}, Ops: []odata.Op{odata.Eq}},
		"startTaskInfo/result":    {Kind: odata.Enum, Values: []string{"success", "failure"}},
		"startTaskInfo/exitCode":  {Kind: odata.Int},
		"startTaskInfo/startTime": {Kind: odata.Time},
		"startTaskInfo/endTime":   {Kind: odata.Time},
	})
)

// odataOps are the operations that act on $filter and $select, by their route pattern; every
// other operation refuses them (api.RefuseUnsupportedQuery).
var odataOps = map[string]odataOp{
	"GET /pools":                             {poolProps, true, []string{expandStats}},
	"GET /pools/{poolId}":                    {poolProps, false, []string{expandStats}},
	"GET /jobs":                              {jobProps, true, []string{expandStats}},
	"GET /jobs/{jobId}":                      {jobProps, false, []string{expandStats}},
	"GET /jobs/{jobId}/tasks":                {taskProps, true, []string{expandStats}},
	"GET /jobs/{jobId}/tasks/{taskId}":       {taskProps, false, []string{expandStats}},
	"GET /pools/{poolId}/nodes":              {nodeProps, true, nil},
	"GET /pools/{poolId}/nodes/{nodeId}":     {nodeProps, false, nil},
	"GET /jobschedules":                      {scheduleProps, true, []string{expandStats}},
	"GET /jobschedules/{jobScheduleId}":      {scheduleProps, false, []string{expandStats}},
	"GET /jobschedules/{jobScheduleId}/jobs": {scheduleJobProps, true, []string{expandStats}},
	"GET /poolusagemetrics":                  {usageMetricsProps, true, nil},
}

// entityProps returns filterable with every top-level JSON property of entity's type added as
// selectable.
func entityProps(entity any, filterable odata.Properties) odata.Properties {
	props := odata.Properties{}
	t := reflect.TypeOf(entity)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			props[name] = odata.Property{Kind: odata.SelectOnly}
		}
	}
	for path, p := range filterable {
		props[path] = p
	}
	return props
}

// parseQuery reads the request's OData options for the operation its route pattern names. An
// operation that does not act on them refuses them, as does a get $filter, and an operation
// that expands nothing $expand; a value of $expand the operation does not act on is refused
// with 400 naming it.
func parseQuery(r *http.Request, pattern string) (query, *api.Error) {
	op, ok := odataOps[pattern]
	if r.Method == http.MethodHead {
		op, ok = odataOps["GET "+strings.TrimPrefix(pattern, "HEAD ")]
	}
	if !ok {
		return query{}, api.RefuseUnsupportedQuery(r)
	}
	var q query
	for _, name := range []string{"$expand", "$filter"} {
		if (name == "$filter" && op.filter) || (name == "$expand" && len(op.expand) > 0) {
			continue
		}
		for _, v := range api.QueryValues(r, name) {
			if strings.TrimSpace(v) != "" {
				return query{}, api.RefuseUnsupportedQuery(r)
			}
		}
	}
	if v := strings.Join(api.QueryValues(r, "$filter"), ""); op.filter && strings.TrimSpace(v) != "" {
		f, err := odata.ParseFilter(v, op.props)
		if err != nil {
			return query{}, odataError(err)
		}
		q.filter = f
	}
	for _, v := range api.QueryValues(r, "$expand") {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			switch {
			case item == "":
			case slices.Contains(op.expand, item):
				q.stats = q.stats || item == expandStats
			default:
				return query{}, api.InvalidQueryValue("$expand", item,
					"Corral expands "+strings.Join(op.expand, ", ")+" here; "+item+" is not an associated entity it can expand.")
			}
		}
	}
	if v := strings.Join(api.QueryValues(r, "$select"), ","); strings.TrimSpace(v) != "" {
		s, err := odata.ParseSelect(v, op.props)
		if err != nil {
			return query{}, odataError(err)
		}
		q.sel = s
	}
	return q, nil
}

// odataError turns a parse error into Azure's 400.
func odataError(err error) *api.Error {
	if oe, ok := err.(*odata.Error); ok {
		return oe.APIError()
	}
	return api.NewError(api.CodeInvalidQueryParameterValue)
}

// asMap renders an entity as the JSON object a client sees, for $filter and $select.
func asMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// matches reports whether the request's filter (none: every entity) keeps v.
func (c *call) matches(v any) bool {
	return c.q.filter == nil || c.q.filter.Match(asMap(v))
}

// selected returns v with only the properties the request's $select names, or v itself.
func (c *call) selected(v any) any {
	if c.q.sel == nil {
		return v
	}
	return c.q.sel.Apply(asMap(v))
}
