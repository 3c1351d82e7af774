package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"corral/api"
	"corral/batch"
)

// Entity URLs, as Azure writes them in url, DataServiceId and TaskAddResult.location.

func (c *call) poolURL(poolID string) string { return c.base + "/pools/" + url.PathEscape(poolID) }

func (c *call) nodeURL(poolID, nodeID string) string {
	return c.poolURL(poolID) + "/nodes/" + url.PathEscape(nodeID)
}

func (c *call) jobURL(jobID string) string { return c.base + "/jobs/" + url.PathEscape(jobID) }

func (c *call) taskURL(jobID, taskID string) string {
	return c.jobURL(jobID) + "/tasks/" + url.PathEscape(taskID)
}

// pathID returns the path parameter name, or Azure's not-found error (code) when it cannot be
// an id: nothing is stored under an id that breaks Azure's rules. A job's id may also be that of
// a job schedule's job ("<scheduleId>:job-<n>").
func (c *call) pathID(name, code string) (string, *api.Error) {
	id := c.r.PathValue(name)
	valid := batch.ValidID
	if name == "jobId" {
		valid = batch.ValidJobID
	}
	if !valid(id) {
		return "", api.NewError(code)
	}
	return id, nil
}

// paging reads a list request's paging parameters: the id the page starts after ($skiptoken,
// "" for the first page) and the page size (maxresults, 1 to 1000, default 1000). $filter and
// $select never reach a handler (see Server.ServeHTTP).
func (c *call) paging() (after string, limit int, e *api.Error) {
	return c.pagingUpTo(api.MaxResultsLimit)
}

// pagingUpTo is paging for a list whose maxresults is at most, and by default, max (Account -
// List Pool Node Counts: 10).
func (c *call) pagingUpTo(max int) (after string, limit int, e *api.Error) {
	if limit, e = api.MaxResults(c.r, max); e != nil {
		return "", 0, e
	}
	tok := api.SkipToken(c.r)
	if tok == "" {
		return "", limit, nil
	}
	if after, e = api.DecodeSkipToken(tok); e != nil {
		return "", 0, e
	}
	if !batch.ValidJobID(after) { // a job schedule's jobs are listed too
		return "", 0, api.NewError(api.CodeInvalidQueryParameterValue,
			api.ErrorValue{Key: "QueryParameterName", Value: api.SkipTokenParam},
			api.ErrorValue{Key: "QueryParameterValue", Value: tok},
			api.ErrorValue{Key: "Reason", Value: "The continuation token is not valid."})
	}
	return after, limit, nil
}

// writeList writes one page of the entity set named set; next is the id of the page's last
// entity when more follow ("" on the last page).
func writeList[T any](c *call, set string, items []T, next string) *api.Error {
	if items == nil {
		items = []T{}
	}
	if c.q.sel != nil {
		sel := make([]any, len(items))
		for i := range items {
			sel[i] = c.selected(items[i])
		}
		return writePage(c, set, sel, next)
	}
	return writePage(c, set, items, next)
}

// writePage writes a page of items.
func writePage[T any](c *call, set string, items []T, next string) *api.Error {
	p := api.Page[T]{Metadata: c.base + "/$metadata#" + set, Value: items}
	if next != "" {
		p.NextLink = api.NextLink(c.r, c.base, api.EncodeSkipToken(next))
	}
	if err := api.WriteJSON(c.w, c.r, http.StatusOK, p, c.id); err != nil {
		c.s.log.Debug("rest: write list", "request-id", c.id, "err", err)
	}
	return nil
}

// writeEntity answers a GET of one entity: 304 or 412 when the request's conditions are not met,
// else 200 with ETag, Last-Modified and the entity with its odata.metadata
// ("…/$metadata#pools/@Element"). An entity without an ETag (a node) has no conditions and no
// entity headers.
func (c *call) writeEntity(fragment string, v any, etag string, lastModified time.Time) *api.Error {
	if etag != "" {
		if e := api.CheckConditions(c.r, etag, lastModified); e != nil {
			if e.Status == http.StatusNotModified {
				api.SetEntityHeaders(c.w, etag, lastModified)
			}
			return e
		}
		api.SetEntityHeaders(c.w, etag, lastModified)
	}
	b, err := withMetadata(c.base+"/$metadata#"+fragment, c.selected(v))
	if err != nil {
		return c.internal("encode response", err)
	}
	if err := api.WriteJSON(c.w, c.r, http.StatusOK, json.RawMessage(b), c.id); err != nil {
		c.s.log.Debug("rest: write entity", "request-id", c.id, "err", err)
	}
	return nil
}

// withMetadata renders v (a JSON object) with "odata.metadata" as its first property, without
// HTML escaping (command lines hold "&&" and "<", which Azure writes as they are).
func withMetadata(metadata string, v any) ([]byte, error) {
	body, err := marshal(v)
	if err != nil {
		return nil, err
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("%T does not encode as a JSON object", v)
	}
	md, err := marshal(metadata)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"odata.metadata":`)
	b.Write(md)
	if rest := body[1:]; !bytes.Equal(bytes.TrimSpace(rest), []byte("}")) {
		b.WriteByte(',')
		b.Write(rest)
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
