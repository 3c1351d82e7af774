package rest

import (
	"corral/api"
	"corral/service"
)

// maxNodeCountsResults is maxresults' default and maximum for Account - List Pool Node Counts
// (api-version 2024-07-01.20.0: default 10, minimum 1, maximum 10).
const maxNodeCountsResults = 10

// listPoolNodeCounts is Account - List Pool Node Counts: GET /nodecounts → 200 with
// {"value": [PoolNodeCounts…]}, one entry per pool in id order, paged like the other lists.
func (s *Server) listPoolNodeCounts(c *call) *api.Error {
	after, limit, e := c.pagingUpTo(maxNodeCountsResults)
	if e != nil {
		return e
	}
	counts, err := service.ListPoolNodeCounts(c.ctx, s.st, after, limit+1)
	if err != nil {
		return c.readError("list pool node counts", err)
	}
	next := ""
	if len(counts) > limit {
		counts = counts[:limit]
		next = counts[limit-1].PoolID
	}
	return writeList(c, "poolnodecounts", counts, next)
}
