package odata_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"corral/api"
	"corral/api/odata"
)

func TestParseFilterValid(t *testing.T) {
	for _, tc := range []struct {
		props odata.Properties
		in    string
		want  string // canonical String()
	}{
		{poolProps, "state eq 'active'", "state eq 'active'"},
		{poolProps, "state EQ 'Active'", "state eq 'active'"},
		{poolProps, "startswith(id, 'render')", "startswith(id, 'render')"},
		{poolProps, "StartsWith(id,'it''s')", "startswith(id, 'it''s')"},
		{poolProps, "(state eq 'active') and startswith(id, 'renderTask')", "state eq 'active' and startswith(id, 'renderTask')"},
		{poolProps, "currentDedicatedNodes ge 2 and currentDedicatedNodes lt -1", "currentDedicatedNodes ge 2 and currentDedicatedNodes lt -1"},
		{poolProps, "enableAutoScale eq true or enableAutoScale ne FALSE", "enableAutoScale eq true or enableAutoScale ne false"},
		{poolProps, "creationTime ge datetime'2024-01-01T00:00:00Z'", "creationTime ge datetime'2024-01-01T00:00:00Z'"},
		{poolProps, "creationTime gt DateTime'2011-05-08T08:49:37Z'", "creationTime gt datetime'2011-05-08T08:49:37Z'"},
		{poolProps, "creationTime gt DateTime'Sun, 08 May 2011 08:49:37 GMT'", "creationTime gt datetime'2011-05-08T08:49:37Z'"},
		{poolProps, "creationTime lt 2024-01-01T01:00:00.5+01:00", "creationTime lt datetime'2024-01-01T00:00:00.5Z'"},
		{poolProps, "creationTime le '2024-01-01T00:00:00Z'", "creationTime le datetime'2024-01-01T00:00:00Z'"},
		{poolProps, "creationTime eq datetime'2024-01-01T00:00:00'", "creationTime eq datetime'2024-01-01T00:00:00Z'"},
		{poolProps, "displayName eq null or displayName ne NULL", "displayName eq null or displayName ne null"},
		{poolProps, "not state eq 'deleting'", "not state eq 'deleting'"},
		{poolProps, "not (state eq 'deleting' or enableAutoScale eq true)", "not (state eq 'deleting' or enableAutoScale eq true)"},
		{poolProps, "not not startswith(id,'a')", "not not startswith(id, 'a')"},
		{poolProps, "state eq 'active' or state eq 'deleting' and enableAutoScale eq true", "state eq 'active' or state eq 'deleting' and enableAutoScale eq true"},
		{poolProps, "(state eq 'active' or state eq 'deleting') and enableAutoScale eq true", "(state eq 'active' or state eq 'deleting') and enableAutoScale eq true"},
		{poolProps, "((id eq 'a' and (id eq 'b' and id eq 'c')))", "id eq 'a' and id eq 'b' and id eq 'c'"},
		{poolProps, "id eq 'a' or (id eq 'b' or id eq 'c')", "id eq 'a' or id eq 'b' or id eq 'c'"},
		{poolProps, " \tid  eq 'x y'\r\n", "id eq 'x y'"},
		{poolProps, "id gt 'm' and id le 'zz'", "id gt 'm' and id le 'zz'"},
		{poolProps, "vmSize ne 'standard_a1'", "vmSize ne 'standard_a1'"},
		{taskProps, "executionInfo/result eq 'failure'", "executionInfo/result eq 'failure'"},
		{taskProps, "executionInfo/exitCode ne 0 and state eq 'completed'", "executionInfo/exitCode ne 0 and state eq 'completed'"},
		{taskProps, "cpuShare gt 0.25 or cpuShare le 1e2 or cpuShare eq 3", "cpuShare gt 0.25 or cpuShare le 100 or cpuShare eq 3"},
		{taskProps, "executionInfo/endTime ge datetime'2024-03-01T10:00:00.1234567Z'", "executionInfo/endTime ge datetime'2024-03-01T10:00:00.1234567Z'"},
		{taskProps, "nodeInfo/nodeId eq 'tvm-1'", "nodeInfo/nodeId eq 'tvm-1'"},
		{nodeProps, "state eq 'idle'", "state eq 'idle'"},
		{nodeProps, "startTaskInfo/state eq 'completed'", "startTaskInfo/state eq 'completed'"},
		{nodeProps, "startswith(name, 'wd/')", "startswith(name, 'wd/')"},
	} {
		f, err := odata.ParseFilter(tc.in, tc.props)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.in, err)
			continue
		}
		if got := f.String(); got != tc.want {
			t.Errorf("ParseFilter(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		g, err := odata.ParseFilter(f.String(), tc.props)
		if err != nil || g.String() != tc.want {
			t.Errorf("ParseFilter(%q) again = %v, %v", f.String(), g, err)
		}
	}
}

func TestParseFilterEmpty(t *testing.T) {
	for _, s := range []string{"", "  ", "\t\r\n"} {
		f, err := odata.ParseFilter(s, poolProps)
		if f != nil || err != nil {
			t.Errorf("ParseFilter(%q) = %v, %v; want nil, nil", s, f, err)
		}
		if !f.Match(map[string]any{}) || f.String() != "" {
			t.Errorf("a nil filter must match everything and print as nothing")
		}
	}
}

func TestParseFilterInvalid(t *testing.T) {
	deep := strings.Repeat("(", odata.MaxDepth+1) + "id eq 'a'" + strings.Repeat(")", odata.MaxDepth+1)
	nots := strings.Repeat("not ", odata.MaxDepth+1) + "id eq 'a'"
	for _, tc := range []struct {
		props odata.Properties
		in    string
		col   int
		msg   string // a part of the message
	}{
		{poolProps, "stat eq 'active'", 1, "'stat' is not a property this list can filter on; it can filter on: allocationState, "},
		{poolProps, "State eq 'active'", 1, "unknown property 'State'; did you mean 'state'?"},
		{poolProps, "url eq 'x'", 1, "'url' is not a property this list can filter on"},
		{poolProps, "URL eq 'x'", 1, "'URL' is not a property this list can filter on"},
		{poolProps, "state eq 5", 10, "state is of type enumeration; '5' is a number"},
		{poolProps, "state eq 'running'", 10, "'running' is not a value of state; its values are active, deleting"},
		{poolProps, "state gt 'active'", 7, "gt is not allowed on state (enumeration); it allows eq, ne"},
		{poolProps, "enableAutoScale gt true", 17, "gt is not allowed on enableAutoScale (boolean); it allows eq, ne"},
		{poolProps, "enableAutoScale eq 'true'", 20, "enableAutoScale is of type boolean; 'true' is a string"},
		{poolProps, "startswith(currentDedicatedNodes, '1')", 1, "startswith is not allowed on currentDedicatedNodes (integer); it allows eq, ne, gt, ge, lt, le"},
		{poolProps, "startswith(vmSize, 'standard')", 1, "startswith is not allowed on vmSize (string); it allows eq, ne"},
		{poolProps, "startswith(id, 5)", 16, "startswith takes a quoted string, found '5'"},
		{poolProps, "startswith id", 12, "expected '(' after startswith"},
		{poolProps, "startswith(id 'a')", 15, "expected ',' after the property in startswith"},
		{poolProps, "startswith(id, 'a'", 19, "expected ')' to close startswith"},
		{poolProps, "currentDedicatedNodes eq 1.5", 26, "currentDedicatedNodes is of type integer; '1.5' is not an integer"},
		{poolProps, "currentDedicatedNodes eq 99999999999999999999", 26, "out of range for an integer"},
		{poolProps, "currentDedicatedNodes eq 'x'", 26, "is a string"},
		{poolProps, "currentDedicatedNodes gt null", 26, "null can be compared with eq and ne only"},
		{poolProps, "creationTime gt datetime'yesterday'", 17, "datetime'yesterday' is not a date-time"},
		{poolProps, "creationTime gt datetime'Sun, 08 May 2011 08:49:37 PST'", 17, "is not a date-time"},
		{poolProps, "creationTime gt 2024-13-01T00:00:00Z", 17, "is not a date-time"},
		{poolProps, "creationTime gt 5", 17, "creationTime is of type date-time; '5' is a number"},
		{poolProps, "creationTime gt 0000-01-01T00:00:00+01:00", 17, "is not a date-time"},
		{poolProps, "id eq datetime'2024-01-01T00:00:00Z'", 7, "id is of type string; datetime'2024-01-01T00:00:00Z' is a date-time"},
		{poolProps, "id eq active", 7, "a string is quoted: 'active'"},
		{poolProps, "id eq 'active", 7, "unterminated string"},
		{poolProps, "id eq 1and id eq 2", 7, "'1and' is not a value"},
		{poolProps, "id == 'a'", 4, `unexpected character "="`},
		{poolProps, "id eq 'a' && id eq 'b'", 11, `unexpected character "&"`},
		{poolProps, "id 'a'", 4, "expected an operator (eq, ne, gt, ge, lt, le) after id, found 'a'"},
		{taskProps, "executionInfo/endTime gt executionInfo/startTime", 26, "expected a value after the operator, found 'executionInfo/startTime'"},
		{poolProps, "id eq", 6, "expected a value after the operator, found the end of the filter"},
		{poolProps, "id eq 'a' and", 14, "expected a comparison (property eq value), startswith(…), 'not' or '(', found the end of the filter"},
		{poolProps, "id eq 'a' id eq 'b'", 11, "expected 'and', 'or' or the end of the filter, found 'id'"},
		{poolProps, "(id eq 'a'", 11, "expected ')' to close the '(' at column 1, found the end of the filter"},
		{poolProps, "id eq 'a')", 10, "')' closes no '('"},
		{poolProps, "and eq 'a'", 1, "expected a comparison"},
		{poolProps, "id/ eq 'a'", 1, `"id/" is not a property path`},
		{poolProps, "é eq 'a'", 1, `unexpected character "é"`},
		{poolProps, "\u00a0", 1, `unexpected character "\u00a0"`},
		{poolProps, "id eq 'é' or é", 14, `unexpected character "é"`},
		{poolProps, deep, odata.MaxDepth + 1, "nests parentheses and 'not' more than 32 deep"},
		{poolProps, nots, 4*odata.MaxDepth + 1, "more than 32 deep"},
		{poolProps, strings.Repeat("id eq 'a' or ", 200) + "id eq 'a'", 0, "the filter is 2609 bytes long; at most 2048 are allowed"},
		{nodeProps, "startTaskInfo/state ne 'running'", 21, "ne is not allowed on startTaskInfo/state (enumeration); it allows eq"},
		{nodeProps, "name eq 'x'", 6, "eq is not allowed on name (string); it allows startswith"},
	} {
		_, err := odata.ParseFilter(tc.in, tc.props)
		checkError(t, err, odata.FilterParam, tc.in, tc.col, tc.msg)
	}
}

func TestErrorAPIError(t *testing.T) {
	_, err := odata.ParseFilter("state eq 5", poolProps)
	var e *odata.Error
	if !errors.As(err, &e) {
		t.Fatalf("ParseFilter: %v", err)
	}
	if got, want := e.Error(), "$filter: column 10: state is of type enumeration; '5' is a number"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	ae := e.APIError()
	if ae.Status != http.StatusBadRequest || ae.Code != api.CodeInvalidQueryParameterValue {
		t.Errorf("APIError = %v", ae)
	}
	want := []api.ErrorValue{{Key: "QueryParameterName", Value: "$filter"}, {Key: "QueryParameterValue", Value: "state eq 5"},
		{Key: "Reason", Value: "column 10: state is of type enumeration; '5' is a number"}}
	if len(ae.Values) != len(want) {
		t.Fatalf("APIError values = %v, want %v", ae.Values, want)
	}
	for i := range want {
		if ae.Values[i] != want[i] {
			t.Errorf("APIError value %d = %v, want %v", i, ae.Values[i], want[i])
		}
	}
}

func TestMatch(t *testing.T) {
	pool := decode(t, poolJSON)
	failed := decode(t, failedTaskJSON)
	active := decode(t, activeTaskJSON)
	for _, tc := range []struct {
		props  odata.Properties
		filter string
		v      map[string]any
		want   bool
	}{
		{poolProps, "state eq 'active'", pool, true},
		{poolProps, "state eq 'ACTIVE'", pool, true},
		{poolProps, "state ne 'active'", pool, false},
		{poolProps, "state eq 'deleting'", pool, false},
		{poolProps, "startswith(id, 'render')", pool, true},
		{poolProps, "startswith(id, 'RENDER-p')", pool, true}, // values compare case-insensitively
		{poolProps, "startswith(id, 'render-pool-')", pool, false},
		{poolProps, "id eq 'render-pool'", pool, true},
		{poolProps, "id gt 'RENDER' and id lt 'S'", pool, true},
		{poolProps, "id ge 'render-pool' and id le 'render-pool'", pool, true},
		{poolProps, "vmSize eq 'Standard_D2s_v3'", pool, true},
		{poolProps, "currentDedicatedNodes eq 3", pool, true},
		{poolProps, "currentDedicatedNodes gt 2 and currentDedicatedNodes lt 4", pool, true},
		{poolProps, "currentDedicatedNodes ge 4", pool, false},
		{poolProps, "enableAutoScale eq false", pool, true},
		{poolProps, "enableAutoScale ne false", pool, false},
		{poolProps, "enableAutoScale eq true or enableInterNodeCommunication eq false", pool, true},
		{poolProps, "not enableAutoScale eq true", pool, true},
		{poolProps, "creationTime eq datetime'2024-03-01T09:59:00Z'", pool, true},
		{poolProps, "creationTime eq datetime'2024-03-01T10:59:00+01:00'", pool, true}, // the same instant
		{poolProps, "creationTime eq datetime'Fri, 01 Mar 2024 09:59:00 GMT'", pool, true},
		{poolProps, "lastModified gt datetime'2024-03-01T10:00:00.1234566Z'", pool, true},
		{poolProps, "lastModified gt datetime'2024-03-01T10:00:00.1234567Z'", pool, false},
		{poolProps, "lastModified ge 2024-03-01T10:00:00.1234567Z", pool, true},
		{poolProps, "allocationStateTransitionTime lt '2024-03-01T09:05:01Z'", pool, true}, // 10:05+01:00 is 09:05Z
		{poolProps, "creationTime ge datetime'2024-01-01T00:00:00Z' and creationTime lt datetime'2024-04-01T00:00:00Z'", pool, true},
		// Missing properties are null.
		{poolProps, "displayName eq null", pool, true},
		{poolProps, "displayName ne null", pool, false},
		{poolProps, "displayName eq 'x'", pool, false},
		{poolProps, "displayName ne 'x'", pool, true},
		{poolProps, "displayName gt 'a' or displayName le 'a'", pool, false},
		{poolProps, "startswith(displayName, '')", pool, false},
		{poolProps, "not displayName gt 'a'", pool, true},
		{poolProps, "id ne null", pool, true},
		// Tasks, with nested properties.
		{taskProps, "executionInfo/result eq 'failure'", failed, true},
		{taskProps, "executionInfo/result eq 'Failure'", failed, true},
		{taskProps, "executionInfo/result eq 'failure'", active, false},
		{taskProps, "executionInfo/result eq null", active, true},
		{taskProps, "executionInfo/result ne 'success'", active, true},
		{taskProps, "executionInfo/exitCode ne 0", failed, true},
		{taskProps, "executionInfo/exitCode ne 0", active, true}, // null ne 0
		{taskProps, "executionInfo/exitCode gt 0", active, false},
		{taskProps, "executionInfo/exitCode eq 3 and executionInfo/retryCount ge 1", failed, true},
		{taskProps, "executionInfo/endTime ge datetime'2024-03-01T10:20:00Z'", failed, true},
		{taskProps, "executionInfo/endTime ge datetime'2024-03-01T10:20:00Z'", active, false},
		{taskProps, "nodeInfo/nodeId eq 'tvm-1' and nodeInfo/poolId eq 'render-pool'", failed, true},
		{taskProps, "nodeInfo/nodeId eq null", active, true},
		{taskProps, "displayName eq 'Frame 7'", failed, true},
		{taskProps, "displayName eq 'frame 7'", failed, false}, // CaseSensitive
		{taskProps, "startswith(displayName, 'fr')", failed, false},
		{taskProps, "cpuShare eq 0.5 and cpuShare gt 0.25", active, true},
		{taskProps, "cpuShare eq null", failed, true},
		{taskProps, "state eq 'completed' and (executionInfo/result eq 'failure' or executionInfo/exitCode ne 0)", failed, true},
		{taskProps, "state eq 'completed' and (executionInfo/result eq 'failure' or executionInfo/exitCode ne 0)", active, false},
		{taskProps, "not (state eq 'completed' or state eq 'running')", active, true},
		// Precedence: not, then and, then or.
		{poolProps, "id eq 'render-pool' or id eq 'y' and enableAutoScale eq true", pool, true},
		{poolProps, "(id eq 'render-pool' or id eq 'y') and enableAutoScale eq true", pool, false},
		{poolProps, "not enableAutoScale eq true and enableAutoScale eq true", pool, false}, // (not …) and …
		{poolProps, "not (enableAutoScale eq true and enableAutoScale eq false)", pool, true},
		{poolProps, "not not state eq 'active'", pool, true},
	} {
		f, err := odata.ParseFilter(tc.filter, tc.props)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.filter, err)
			continue
		}
		if got := f.Match(tc.v); got != tc.want {
			t.Errorf("%q.Match(%v) = %v, want %v", tc.filter, tc.v["id"], got, tc.want)
		}
	}
}

// Values of the wrong type compare as null, except that they are not null.
func TestMatchWrongTypes(t *testing.T) {
	for _, tc := range []struct {
		filter string
		v      map[string]any
		want   bool
	}{
		{"currentDedicatedNodes eq 3", map[string]any{"currentDedicatedNodes": "3"}, false},
		{"currentDedicatedNodes ne 3", map[string]any{"currentDedicatedNodes": "3"}, true},
		{"currentDedicatedNodes eq null", map[string]any{"currentDedicatedNodes": "3"}, false},
		{"currentDedicatedNodes eq null", map[string]any{"currentDedicatedNodes": nil}, true},
		{"currentDedicatedNodes eq 3", map[string]any{"currentDedicatedNodes": 3}, true},
		{"currentDedicatedNodes eq 3", map[string]any{"currentDedicatedNodes": int64(3)}, true},
		{"creationTime gt datetime'2024-01-01T00:00:00Z'", map[string]any{"creationTime": "soon"}, false},
		{"creationTime ne datetime'2024-01-01T00:00:00Z'", map[string]any{"creationTime": 5.0}, true},
		{"state eq 'active'", map[string]any{"state": true}, false},
		{"startswith(id, 'a')", map[string]any{"id": 1.0}, false},
		{"enableAutoScale eq true", map[string]any{"enableAutoScale": "true"}, false},
	} {
		f, err := odata.ParseFilter(tc.filter, poolProps)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.filter, err)
		}
		if got := f.Match(tc.v); got != tc.want {
			t.Errorf("%q.Match(%v) = %v, want %v", tc.filter, tc.v, got, tc.want)
		}
	}
	f, err := odata.ParseFilter("executionInfo/result eq null", taskProps)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []map[string]any{nil, {}, {"executionInfo": "x"}, {"executionInfo": []any{1}}, {"executionInfo": map[string]any{}}} {
		if !f.Match(v) {
			t.Errorf("%q.Match(%v) = false: a path through a non-object is null", f, v)
		}
	}
}
