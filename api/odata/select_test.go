package odata_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"corral/api/odata"
)

func TestParseSelect(t *testing.T) {
	for _, tc := range []struct {
		props odata.Properties
		in    string
		want  string // String(), "" for no select
	}{
		{poolProps, "", ""},
		{poolProps, "   ", ""},
		{poolProps, "id", "id"},
		{poolProps, "id,displayName,stats", "id,displayName,stats"},
		{poolProps, "id, stats", "id,stats"},
		{poolProps, " id ,state,id ", "id,state"},
		{poolProps, "*", "*"},
		{poolProps, "id,*", "*"},
		{taskProps, "id,commandLine,nodeInfo", "id,commandLine,nodeInfo"},                 // Azure's own example
		{taskProps, "executionInfo,stats,constraints", "executionInfo,stats,constraints"}, // parents of filterable or select-only paths
	} {
		s, err := odata.ParseSelect(tc.in, tc.props)
		if err != nil {
			t.Errorf("ParseSelect(%q): %v", tc.in, err)
			continue
		}
		if got := s.String(); got != tc.want {
			t.Errorf("ParseSelect(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseSelectInvalid(t *testing.T) {
	for _, tc := range []struct {
		in  string
		col int
		msg string
	}{
		{"id,", 4, "an item of the list is empty"},
		{",id", 1, "an item of the list is empty"},
		{"id,,state", 4, "an item of the list is empty"},
		{"id, nope", 5, "unknown property 'nope'"},
		{"id,State", 4, "unknown property 'State'; did you mean 'state'?"},
		{"stats/usageStats", 1, "'stats/usageStats' is a nested property; $select takes top-level properties, such as 'stats'"},
		{"id,é", 4, "unknown property 'é'"},
		{"id ,  bad", 7, "unknown property 'bad'"},
		{strings.Repeat("id,", 700) + "id", 0, "at most 2048"},
	} {
		_, err := odata.ParseSelect(tc.in, poolProps)
		checkError(t, err, odata.SelectParam, tc.in, tc.col, tc.msg)
	}
}

func TestSelectApply(t *testing.T) {
	pool := decode(t, poolJSON)
	s, err := odata.ParseSelect("id,state,stats,displayName", poolProps)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Apply(pool)
	// stats and displayName are not in the pool: nothing is made up for them.
	want := []string{"id", "odata.metadata", "state"}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
		t.Errorf("Apply kept %v, want %v", keys, want)
	}
	if got["id"] != "render-Pool" || got["state"] != "active" {
		t.Errorf("Apply = %v", got)
	}
	if _, ok := pool["url"]; !ok {
		t.Errorf("Apply changed its argument")
	}

	task := decode(t, failedTaskJSON)
	s, err = odata.ParseSelect("id,executionInfo", taskProps)
	if err != nil {
		t.Fatal(err)
	}
	got = s.Apply(task)
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"executionInfo", "id"}) {
		t.Errorf("Apply kept %v", keys)
	}
	if got["executionInfo"].(map[string]any)["result"] != "failure" {
		t.Errorf("Apply did not keep executionInfo whole: %v", got["executionInfo"])
	}
	if !slices.Equal(s.Names(), []string{"id", "executionInfo"}) {
		t.Errorf("Names() = %v", s.Names())
	}

	var none *odata.Select
	if got := none.Apply(task); len(got) != len(task) {
		t.Errorf("a nil Select must keep everything")
	}
	all, _ := odata.ParseSelect("*", taskProps)
	if got := all.Apply(task); len(got) != len(task) || all.Names() != nil {
		t.Errorf("* must keep everything")
	}
}
