package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// Pool - Enable AutoScale and Pool - Disable AutoScale answer 200 OK with an empty body and the
// pool's DataServiceId, ETag and Last-Modified after the change, as Azure does; Enable AutoScale
// honours If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since (Azure's Disable
// AutoScale takes none, and Corral ignores them there). Pool - Evaluate AutoScale answers 200 with
// the AutoScaleRun (timestamp, results, error) the formula gives against the pool as it is now,
// with odata.metadata and the pool's DataServiceId, ETag and Last-Modified; it changes nothing.
//
// What can be checked without the pool is checked here (the body's shape, the formula's length,
// the interval's form); the rest is the service's (the pool's state, the formula's meaning, the
// interval's bounds, which depend on the configured minimum).

// enableAutoScaleParameter is the body of Pool - Enable AutoScale, Azure's
// PoolEnableAutoScaleParameter. Both properties are optional (with autoscale already enabled, a
// property left out keeps the pool's value); the pointers tell one left out from one given.
type enableAutoScaleParameter struct {
	AutoScaleFormula            *string `json:"autoScaleFormula"`
	AutoScaleEvaluationInterval *string `json:"autoScaleEvaluationInterval"`
}

// evaluateAutoScaleParameter is the body of Pool - Evaluate AutoScale, Azure's
// PoolEvaluateAutoScaleParameter.
type evaluateAutoScaleParameter struct {
	AutoScaleFormula *string `json:"autoScaleFormula"`
}

// enableAutoScale is Pool - Enable AutoScale: POST /pools/{poolId}/enableautoscale → 200.
func (s *Server) enableAutoScale(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	req, e := c.enableAutoScaleRequest(id)
	if e != nil {
		return e
	}
	return s.changePoolWith(c, id, poolChange{status: http.StatusOK, conditional: true}, func(r service.Request) actor.Event {
		req.Request = r
		return req
	})
}

// disableAutoScale is Pool - Disable AutoScale: POST /pools/{poolId}/disableautoscale → 200. The
// operation has no body; one that is sent is not read.
func (s *Server) disableAutoScale(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	return s.changePoolWith(c, id, poolChange{status: http.StatusOK}, func(r service.Request) actor.Event {
		return service.DisableAutoScale{Request: r, PoolID: id}
	})
}

// autoScaleRunMetadata is the odata.metadata fragment of Pool - Evaluate AutoScale's answer, as
// Azure's REST reference shows it.
const autoScaleRunMetadata = "Microsoft.WindowsAzure.Batch.Protocol.Entities.AutoScaleRun"

// evaluateAutoScale is Pool - Evaluate AutoScale: POST /pools/{poolId}/evaluateautoscale → 200
// with the AutoScaleRun.
func (s *Server) evaluateAutoScale(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	formula, e := c.evaluateAutoScaleFormula()
	if e != nil {
		return e
	}
	if _, err := service.GetPool(c.ctx, s.st, id); err != nil {
		return c.readError("get pool", err)
	}
	rep, e := c.send(func(r service.Request) actor.Event {
		return service.EvaluateAutoScale{Request: r, PoolID: id, Formula: formula}
	})
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if rep.AutoScaleRun == nil {
		return c.internal("evaluate autoscale", errors.New("the service answered without an autoScaleRun"))
	}
	b, err := withMetadata(c.base+"/$metadata#"+autoScaleRunMetadata, rep.AutoScaleRun)
	if err != nil {
		return c.internal("encode autoScaleRun", err)
	}
	p := s.poolAfterChange(c, id) // nothing changed: the headers describe the pool evaluated
	c.w.Header().Set(api.HeaderDataServiceID, c.poolURL(id))
	api.SetEntityHeaders(c.w, p.ETag, p.LastModified)
	if err := api.WriteJSON(c.w, c.r, http.StatusOK, json.RawMessage(b), c.id); err != nil {
		c.s.log.Debug("rest: write autoScaleRun", "request-id", c.id, "err", err)
	}
	return nil
}

// enableAutoScaleRequest reads the body of Pool - Enable AutoScale and returns the service's
// request for pool poolID, or Azure's 400 (nothing is sent to the service then):
//
//   - InvalidRequestBody: the body is empty, null, not a JSON object, not JSON, has a property of
//     the wrong type, or a property PoolEnableAutoScaleParameter does not have (rejected, as in
//     Pool - Resize, so that a misspelt interval is not silently taken for one left out).
//   - AutoScaleFormulaTooLong: a formula of more than 8192 characters (as Pool - Add).
//   - InvalidPropertyValue: an empty formula, or an autoScaleEvaluationInterval that is not an
//     ISO 8601 duration or is not positive. Its bounds (Azure: 5 minutes to 168 hours) are the
//     service's to check, which knows the configured minimum.
//
// A formula left out is "" (keep the pool's; the service requires autoscale to be enabled then),
// an interval left out is 0 (keep the pool's, or Azure's default of 15 minutes).
func (c *call) enableAutoScaleRequest(poolID string) (service.EnableAutoScale, *api.Error) {
	var p *enableAutoScaleParameter
	if e := c.decode(&p, api.RequestModel{}); e != nil {
		return service.EnableAutoScale{}, e
	}
	if p == nil {
		return service.EnableAutoScale{}, api.NewError(api.CodeInvalidRequestBody,
			api.ErrorValue{Key: "Reason", Value: "The request body is null; Pool - Enable AutoScale takes a PoolEnableAutoScaleParameter object."})
	}
	req := service.EnableAutoScale{PoolID: poolID}
	if f := p.AutoScaleFormula; f != nil {
		if e := checkFormula(*f); e != nil {
			return service.EnableAutoScale{}, e
		}
		req.Formula = *f
	}
	if s := p.AutoScaleEvaluationInterval; s != nil {
		d, err := batch.ParseDuration(*s)
		if err != nil {
			return service.EnableAutoScale{}, api.InvalidProperty("autoScaleEvaluationInterval", *s,
				"autoScaleEvaluationInterval must be an ISO 8601 duration such as PT15M")
		}
		if d <= 0 {
			return service.EnableAutoScale{}, api.InvalidProperty("autoScaleEvaluationInterval", *s,
				"autoScaleEvaluationInterval must be a positive duration")
		}
		req.EvaluationInterval = d
	}
	return req, nil
}

// evaluateAutoScaleFormula reads the body of Pool - Evaluate AutoScale and returns its formula,
// or Azure's 400: InvalidRequestBody as for Enable AutoScale, MissingRequiredProperty when
// autoScaleFormula is left out (Azure requires it), InvalidPropertyValue when it is empty, and
// AutoScaleFormulaTooLong beyond 8192 characters.
func (c *call) evaluateAutoScaleFormula() (string, *api.Error) {
	var p *evaluateAutoScaleParameter
	if e := c.decode(&p, api.RequestModel{}); e != nil {
		return "", e
	}
	if p == nil {
		return "", api.NewError(api.CodeInvalidRequestBody,
			api.ErrorValue{Key: "Reason", Value: "The request body is null; Pool - Evaluate AutoScale takes a PoolEvaluateAutoScaleParameter object."})
	}
	if p.AutoScaleFormula == nil {
		return "", api.MissingProperty("autoScaleFormula")
	}
	if e := checkFormula(*p.AutoScaleFormula); e != nil {
		return "", e
	}
	return *p.AutoScaleFormula, nil
}

// checkFormula checks what can be checked of an autoscale formula without evaluating it: that it
// is not empty, and at most batch.MaxAutoScaleFormulaLength characters (the error Pool - Add
// gives, from batch.ValidatePool).
func checkFormula(f string) *api.Error {
	if strings.TrimSpace(f) == "" {
		return api.InvalidProperty("autoScaleFormula", f, "autoScaleFormula must not be empty")
	}
	if utf8.RuneCountInString(f) > batch.MaxAutoScaleFormulaLength {
		return fromBatch(&batch.Error{
			Code:    batch.CodeAutoScaleFormulaTooLong,
			Message: "The autoscale formula is longer than 8192 characters.",
			Values:  []batch.KV{{Key: batch.KeyPropertyName, Value: "autoScaleFormula"}},
		})
	}
	return nil
}
