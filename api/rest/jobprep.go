package rest

import (
	"strings"

	"corral/api"
	"corral/batch"
	"corral/service"
)

// listPrepReleaseStatus is Job - List Preparation And Release Task Status: GET
// /jobs/{jobId}/jobpreparationandreleasetaskstatus, an entry per node that has run the job's
// preparation task (and its release task, once the job has ended), in pool and node order. A
// job without a preparation task is 409 JobPreparationTaskNotSpecified, as on Azure; one that
// does not exist is 404 JobNotFound. taskRootDirectory is the task's directory relative to the
// node's root directory (Azure gives the node's absolute path); taskRootDirectoryUrl is its
// directory in Compute Node - List Files, where Corral serves it.
func (s *Server) listPrepReleaseStatus(c *call) *api.Error {
	jobID, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	limit, e := api.MaxResults(c.r, api.MaxResultsLimit)
	if e != nil {
		return e
	}
	after := ""
	if tok := api.SkipToken(c.r); tok != "" {
		after, e = api.DecodeSkipToken(tok)
		pool, node, ok := strings.Cut(after, "/")
		if e != nil || !ok || !batch.ValidID(pool) || !batch.ValidID(node) {
			return api.NewError(api.CodeInvalidQueryParameterValue,
				api.ErrorValue{Key: "QueryParameterName", Value: api.SkipTokenParam},
				api.ErrorValue{Key: "QueryParameterValue", Value: tok},
				api.ErrorValue{Key: "Reason", Value: "The continuation token is not valid."})
		}
	}
	var hasPrep bool
	items, next, err := page(c, func(after string, n int) ([]batch.JobPrepReleaseStatus, error) {
		out, has, err := service.ListJobPrepRelease(c.ctx, s.st, jobID, after, n)
		hasPrep = has
		return out, err
	}, service.PrepStatusKey, func(st *batch.JobPrepReleaseStatus) {
		st.NodeURL = c.nodeURL(st.PoolID, st.NodeID)
		if p := st.Preparation; p != nil && p.TaskRootDirectoryURL == "" {
			p.TaskRootDirectoryURL = st.NodeURL + "/files/" + p.TaskRootDirectory
		}
		if r := st.Release; r != nil && r.TaskRootDirectoryURL == "" {
			r.TaskRootDirectoryURL = st.NodeURL + "/files/" + r.TaskRootDirectory
		}
	}, after, limit)
	if err != nil {
		return c.readError("list preparation and release task status", err)
	}
	if !hasPrep {
		return api.NewError(api.CodeJobPreparationTaskNotSpecified)
	}
	return writeList(c, "jobpreparationandreleasetaskstatuslist", items, next)
}
