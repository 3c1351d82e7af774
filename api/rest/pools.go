package rest

import (
	"net/http"
	"strings"
	"time"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// addPool is Pool - Add: POST /pools → 201.
func (s *Server) addPool(c *call) *api.Error {
	var p batch.Pool
	if e := c.decode(&p, poolAddModel); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event { return service.AddPool{Request: req, Pool: p} })
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	// Added: the headers describe the pool as stored now.
	pool, err := service.GetPool(c.ctx, s.st, p.ID)
	if err != nil {
		c.s.log.Warn("rest: read pool after add", "request-id", c.id, "pool", p.ID, "err", err)
	}
	c.writeHeaders(http.StatusCreated, c.poolURL(p.ID), pool.ETag, pool.LastModified)
	return nil
}

// getPool is Pool - Get (and, for HEAD, Pool - Exists): GET /pools/{poolId}.
func (s *Server) getPool(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	p, err := service.GetPool(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get pool", err)
	}
	c.fillPool(&p)
	v, e := c.poolViews([]batch.Pool{p})
	if e != nil {
		return e
	}
	return c.writeEntity("pools/@Element", v[0], p.ETag, p.LastModified)
}

// listPools is Pool - List: GET /pools.
func (s *Server) listPools(c *call) *api.Error {
	after, limit, e := c.paging()
	if e != nil {
		return e
	}
	pools, next, err := page(c, func(after string, n int) ([]batch.Pool, error) { return service.ListPools(c.ctx, s.st, after, n) },
		func(p batch.Pool) string { return p.ID }, c.fillPool, after, limit)
	if err != nil {
		return c.readError("list pools", err)
	}
	v, e := c.poolViews(pools)
	if e != nil {
		return e
	}
	return writeList(c, "pools", v, next)
}

// listNodes is Compute Node - List: GET /pools/{poolId}/nodes.
func (s *Server) listNodes(c *call) *api.Error {
	poolID, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	after, limit, e := c.paging()
	if e != nil {
		return e
	}
	// The service lists a pool's nodes whole, in id order: page here.
	all, err := service.ListNodes(c.ctx, s.st, poolID)
	if err != nil {
		return c.readError("list nodes", err)
	}
	nodes := all[:0]
	for _, n := range all {
		if c.q.filter == nil {
			nodes = append(nodes, n)
			continue
		}
		f := n
		c.fillNode(poolID, &f)
		if c.matches(f) {
			nodes = append(nodes, n)
		}
	}
	if after != "" {
		i := 0
		for i < len(nodes) && nodes[i].ID <= after {
			i++
		}
		nodes = nodes[i:]
	}
	next := ""
	if len(nodes) > limit {
		nodes = nodes[:limit]
		next = nodes[limit-1].ID
	}
	for i := range nodes {
		c.fillNode(poolID, &nodes[i])
	}
	return writeList(c, "nodes", nodes, next)
}

// getNode is Compute Node - Get: GET /pools/{poolId}/nodes/{nodeId}. Nodes carry no ETag.
func (s *Server) getNode(c *call) *api.Error {
	poolID, n, e := s.pathNode(c)
	if e != nil {
		return e
	}
	c.fillNode(poolID, &n)
	return c.writeEntity("nodes/@Element", n, "", time.Time{})
}

// pathNode reads the node that the path /pools/{poolId}/nodes/{nodeId}/... names (ids compare
// case-insensitively), and returns the pool's id as given: 404 PoolNotFound or NodeNotFound if
// there is none.
func (s *Server) pathNode(c *call) (string, batch.Node, *api.Error) {
	poolID, nodeID, e := c.nodePath()
	if e != nil {
		return "", batch.Node{}, e
	}
	nodes, err := service.ListNodes(c.ctx, s.st, poolID)
	if err != nil {
		return "", batch.Node{}, c.readError("get node", err)
	}
	for _, n := range nodes {
		if strings.EqualFold(n.ID, nodeID) {
			return poolID, n, nil
		}
	}
	return "", batch.Node{}, api.NewError(api.CodeNodeNotFound)
}

// fillPool sets the pool's url.
func (c *call) fillPool(p *batch.Pool) { p.URL = c.poolURL(p.ID) }

// fillNode sets the node's url and the taskUrl of its recent tasks.
func (c *call) fillNode(poolID string, n *batch.Node) {
	n.URL = c.nodeURL(poolID, n.ID)
	for i := range n.RecentTasks {
		if t := &n.RecentTasks[i]; t.TaskURL == "" && t.JobID != "" && t.TaskID != "" {
			t.TaskURL = c.taskURL(t.JobID, t.TaskID)
		}
	}
}
