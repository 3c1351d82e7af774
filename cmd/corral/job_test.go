package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/api/rest"
	"corral/batch"
)

func TestMatchResults(t *testing.T) {
	tasks := []batch.Task{{ID: "a"}, {ID: "b"}, {ID: "b"}, {ID: "C"}}
	res := func(ids ...string) []rest.TaskAddResult {
		var out []rest.TaskAddResult
		for i, id := range ids {
			out = append(out, rest.TaskAddResult{TaskID: id, Status: fmt.Sprint(i)})
		}
		return out
	}
	tests := []struct {
		name    string
		results []rest.TaskAddResult
		want    map[int]string // task index -> Status of its result
	}{
		{"in order", res("a", "b", "b", "c"), map[int]string{0: "0", 1: "1", 2: "2", 3: "3"}},
		{"shuffled", res("b", "c", "a", "b"), map[int]string{0: "2", 1: "0", 2: "3", 3: "1"}},
		{"missing", res("c", "a"), map[int]string{0: "1", 3: "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[int]string{}
			for i, r := range matchResults(tasks, tt.results) {
				got[i] = r.Status
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeBatch answers Job - Add and Task - Add Collection the way a Batch service may: it refuses
// collections larger than maxTasks (413), fails "flaky" tasks once (servererror), refuses "bad"
// tasks (clienterror), and answers in reverse order.
type fakeBatch struct {
	maxTasks int
	mu       sync.Mutex
	sizes    []int
	added    []string
	flaked   bool
}

func (f *fakeBatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/jobs" {
		w.WriteHeader(http.StatusCreated)
		return
	}
	var body struct{ Value []batch.Task }
	json.NewDecoder(r.Body).Decode(&body)
	f.sizes = append(f.sizes, len(body.Value))
	if len(body.Value) > f.maxTasks {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"code": "RequestBodyTooLarge", "message": {"lang": "en-US", "value": "too large\nRequestId:x"}}`)
		return
	}
	var out []rest.TaskAddResult
	for i := len(body.Value) - 1; i >= 0; i-- {
		tk := body.Value[i]
		r := rest.TaskAddResult{TaskID: tk.ID, Status: rest.TaskAddSuccess}
		switch {
		case tk.ID == "flaky" && !f.flaked:
			f.flaked = true
			r.Status = rest.TaskAddServerError
		case tk.ID == "bad":
			r.Status = rest.TaskAddClientError
			r.Error = &rest.BatchError{Code: "InvalidPropertyValue", Message: rest.ErrorMessage{Value: "no good\nRequestId:x"}}
		default:
			f.added = append(f.added, tk.ID)
		}
		out = append(out, r)
	}
	json.NewEncoder(w).Encode(map[string]any{"value": out})
}

func TestSubmitJob(t *testing.T) {
	defer func(d time.Duration) { submitRetryDelay = d }(submitRetryDelay)
	submitRetryDelay = 0
	f := &fakeBatch{maxTasks: 40}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &client{base: srv.URL, account: "a", key: []byte("k"), http: srv.Client()}

	pj := &parsedJob{Job: batch.Job{ID: "j"}}
	for i := range 150 {
		pj.Tasks = append(pj.Tasks, batch.Task{ID: fmt.Sprintf("t%d", i)})
	}
	pj.Tasks = append(pj.Tasks, batch.Task{ID: "flaky"}, batch.Task{ID: "bad"})
	var log strings.Builder
	err := submitJob(context.Background(), c, pj, &log)
	if err == nil || !strings.Contains(err.Error(), "1 of its 152 tasks could not be added:\n  task bad: InvalidPropertyValue: no good\n") {
		t.Errorf("submitJob: %v", err)
	}
	if !strings.Contains(log.String(), "retrying 1 task the server could not add") {
		t.Errorf("log: %q", log.String())
	}
	// 100 is too many, and so is 50; then collections of 25 (the last of 2), and the retry.
	if want := []int{100, 50, 25, 25, 25, 25, 25, 25, 2, 1}; !reflect.DeepEqual(f.sizes, want) {
		t.Errorf("collection sizes = %v, want %v", f.sizes, want)
	}
	if len(f.added) != 151 {
		t.Errorf("added %d tasks, want 151", len(f.added))
	}
}
