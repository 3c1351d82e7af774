package rest

import (
	"net/http"
	"slices"
	"strings"

	"corral/api"
)

// handlerFunc serves one operation; it writes its answer, or returns the error to write.
type handlerFunc func(c *call) *api.Error

// route is one of Azure's paths: the methods Corral serves on it, and those Azure has that
// Corral does not implement yet.
type route struct {
	path    string
	serve   map[string]handlerFunc
	pending []string
}

// routes builds the mux. Every path answers every method: an Azure operation Corral does not
// implement yet with 501 NotImplemented, a method Azure does not have on the path with 405
// UnsupportedHttpVerb, a path Azure does not have with 400 InvalidUri, so that every answer is
// in Azure's error shape. (A GET route also serves HEAD: Pool - Exists is HEAD /pools/{poolId}.)
func (s *Server) routes() {
	const get, post = http.MethodGet, http.MethodPost
	table := []route{
		{"/pools", map[string]handlerFunc{get: s.listPools, post: s.addPool}, nil},
		{"/pools/{poolId}", map[string]handlerFunc{get: s.getPool, http.MethodDelete: s.deletePool, http.MethodPatch: s.patchPool}, nil},
		{"/pools/{poolId}/updateproperties", map[string]handlerFunc{post: s.updatePoolProperties}, nil},
		{"/pools/{poolId}/resize", map[string]handlerFunc{post: s.resizePool}, nil},
		{"/pools/{poolId}/stopresize", map[string]handlerFunc{post: s.stopResizePool}, nil},
		{"/pools/{poolId}/enableautoscale", map[string]handlerFunc{post: s.enableAutoScale}, nil},
		{"/pools/{poolId}/disableautoscale", map[string]handlerFunc{post: s.disableAutoScale}, nil},
		{"/pools/{poolId}/evaluateautoscale", map[string]handlerFunc{post: s.evaluateAutoScale}, nil},
		{"/pools/{poolId}/removenodes", map[string]handlerFunc{post: s.removeNodes}, nil},
		{"/pools/{poolId}/history", map[string]handlerFunc{get: s.poolHistory}, nil}, // Corral's
		{"/pools/{poolId}/nodes", map[string]handlerFunc{get: s.listNodes}, nil},
		{"/pools/{poolId}/nodes/{nodeId}", map[string]handlerFunc{get: s.getNode}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/disablescheduling", map[string]handlerFunc{post: s.disableNodeScheduling}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/enablescheduling", map[string]handlerFunc{post: s.enableNodeScheduling}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/reboot", map[string]handlerFunc{post: s.rebootNode}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/reimage", map[string]handlerFunc{post: s.reimageNode}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/extensions", map[string]handlerFunc{get: s.listNodeExtensions}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}", map[string]handlerFunc{get: s.getNodeExtension}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/remoteloginsettings", map[string]handlerFunc{get: s.noRemoteLogin}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/rdp", map[string]handlerFunc{get: s.noRemoteLogin}, nil},
		{"/pools/{poolId}/nodes/{nodeId}/evict", map[string]handlerFunc{post: s.evictNode}, nil},                    // Corral's
		{"/pools/{poolId}/jointokens", map[string]handlerFunc{get: s.listJoinTokens, post: s.createJoinToken}, nil}, // Corral's
		{"/pools/{poolId}/jointokens/{tokenId}", map[string]handlerFunc{http.MethodDelete: s.revokeJoinToken}, nil}, // Corral's
		{"/pools/{poolId}/machines", map[string]handlerFunc{get: s.listMachines}, nil},                              // Corral's
		{"/pools/{poolId}/machines/{machineId}", map[string]handlerFunc{http.MethodDelete: s.forgetMachine}, nil},   // Corral's
		{"/nodecounts", map[string]handlerFunc{get: s.listPoolNodeCounts}, nil},
		{"/lifetimejobstats", map[string]handlerFunc{get: s.jobLifetimeStats}, nil},
		{"/lifetimepoolstats", map[string]handlerFunc{get: s.poolLifetimeStats}, nil},
		{"/poolusagemetrics", map[string]handlerFunc{get: s.listPoolUsageMetrics}, nil},
		{"/jobs", map[string]handlerFunc{get: s.listJobs, post: s.addJob}, nil},
		{"/jobs/{jobId}", map[string]handlerFunc{get: s.getJob, http.MethodDelete: s.deleteJob, http.MethodPatch: s.patchJob, http.MethodPut: s.updateJob}, nil},
		{"/jobs/{jobId}/terminate", map[string]handlerFunc{post: s.terminateJob}, nil},
		{"/jobs/{jobId}/disable", map[string]handlerFunc{post: s.disableJob}, nil},
		{"/jobs/{jobId}/enable", map[string]handlerFunc{post: s.enableJob}, nil},
		{"/jobs/{jobId}/taskcounts", map[string]handlerFunc{get: s.taskCounts}, nil},
		{"/jobs/{jobId}/jobpreparationandreleasetaskstatus", map[string]handlerFunc{get: s.listPrepReleaseStatus}, nil},
		{"/jobs/{jobId}/tasks", map[string]handlerFunc{get: s.listTasks, post: s.addTask}, nil},
		{"/jobs/{jobId}/addtaskcollection", map[string]handlerFunc{post: s.addTaskCollection}, nil},
		{"/jobs/{jobId}/tasks/{taskId}", map[string]handlerFunc{get: s.getTask, http.MethodDelete: s.deleteTask, http.MethodPut: s.updateTask}, nil},
		{"/jobs/{jobId}/tasks/{taskId}/terminate", map[string]handlerFunc{post: s.terminateTask}, nil},
		{"/jobs/{jobId}/tasks/{taskId}/reactivate", map[string]handlerFunc{post: s.reactivateTask}, nil},
		{"/jobs/{jobId}/tasks/{taskId}/subtasksinfo", map[string]handlerFunc{get: s.listSubtasks}, nil},
		{"/jobschedules", map[string]handlerFunc{get: s.listJobSchedules, post: s.addJobSchedule}, nil},
		{"/jobschedules/{jobScheduleId}", map[string]handlerFunc{get: s.getJobSchedule, http.MethodDelete: s.deleteJobSchedule, http.MethodPatch: s.patchJobSchedule, http.MethodPut: s.updateJobSchedule}, nil},
		{"/jobschedules/{jobScheduleId}/disable", map[string]handlerFunc{post: s.disableJobSchedule}, nil},
		{"/jobschedules/{jobScheduleId}/enable", map[string]handlerFunc{post: s.enableJobSchedule}, nil},
		{"/jobschedules/{jobScheduleId}/terminate", map[string]handlerFunc{post: s.terminateJobSchedule}, nil},
		{"/jobschedules/{jobScheduleId}/jobs", map[string]handlerFunc{get: s.listJobsFromSchedule}, nil},
		{"/applications", map[string]handlerFunc{get: s.listApplications}, nil},
		{"/applications/{applicationId}", map[string]handlerFunc{get: s.getApplication}, nil},
		{"/certificates", map[string]handlerFunc{get: s.listCertificates}, []string{post}},
	}
	table = append(table, s.fileRoutes()...)
	table = append(table, s.userRoutes()...)
	table = append(table, s.logsRoutes()...)
	m := http.NewServeMux()
	for _, rt := range table {
		var allow []string
		for method, fn := range rt.serve {
			m.Handle(method+" "+rt.path, s.handler(fn))
			allow = append(allow, method)
			if method == get {
				allow = append(allow, http.MethodHead)
			}
		}
		for _, method := range rt.pending {
			m.Handle(method+" "+rt.path, s.handler(func(c *call) *api.Error { return notImplemented(c.r) }))
			allow = append(allow, method)
		}
		slices.Sort(allow)
		allow = slices.Compact(allow)
		m.Handle(rt.path, s.handler(func(c *call) *api.Error {
			c.w.Header().Set("Allow", strings.Join(allow, ", "))
			return api.NewError(api.CodeUnsupportedHTTPVerb)
		}))
	}
	m.Handle("/", s.handler(func(c *call) *api.Error {
		if e, ok := certificateOperation(c); ok {
			return e
		}
		if azurePath(c.r.URL.Path) {
			return notImplemented(c.r)
		}
		return api.NewError(api.CodeInvalidURI)
	}))
	s.mux = m
}

// azureCollections are the top-level collections of Azure Batch's data plane where Azure has
// operations Corral does not implement yet. (Every operation on job schedules is served: another
// path under /jobschedules is not Azure's.)
var azureCollections = []string{
	"applications", "certificates", "jobs", "lifetimejobstats", "lifetimepoolstats",
	"nodecounts", "poolusagemetrics", "pools", "supportedimages",
}

// azurePath reports whether path lies under one of Azure's top-level collections, so that an
// operation on it is one Azure has (or a mistyped one, which Azure answers differently; Corral
// cannot tell the two apart without knowing every operation).
func azurePath(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	first = strings.ToLower(first)
	for _, c := range azureCollections {
		if first == c || strings.HasPrefix(first, c+"(") {
			return true
		}
	}
	return false
}
