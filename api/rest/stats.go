package rest

import (
	"corral/api"
	"corral/service"
)

// jobLifetimeStats is Job - Get All Lifetime Statistics: GET /lifetimejobstats, the usage of
// every task the account's jobs have had (service.LifetimeJobStatistics), counted when asked.
// Corral has no node resource statistics, so Pool - Get All Lifetime Statistics and Pool - List
// Usage Metrics stay unimplemented.
func (s *Server) jobLifetimeStats(c *call) *api.Error {
	st, err := service.LifetimeJobStatistics(c.ctx, s.st, c.now)
	if err != nil {
		return c.readError("lifetime job statistics", err)
	}
	st.URL = c.base + "/lifetimejobstats"
	return c.writeEntity("jobstats/@Element", st, "", zeroTime)
}
