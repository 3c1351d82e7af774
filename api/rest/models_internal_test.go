package rest

import (
	"os"
	"strings"
	"testing"

	"corral/api"
	"corral/batch"
)

// TestCompatibilityDocCoversModels keeps docs/compatibility.md complete: every property of the
// request models has a row in its section, and every property package batch refuses, and every
// query option api refuses, is named there.
func TestCompatibilityDocCoversModels(t *testing.T) {
	b, err := os.ReadFile("../../docs/compatibility.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	section := func(heading string) string {
		_, rest, ok := strings.Cut(doc, "\n## "+heading)
		if !ok {
			t.Fatalf("docs/compatibility.md has no section %q", heading)
		}
		body, _, _ := strings.Cut(rest, "\n## ")
		return body
	}
	for _, s := range []struct {
		heading     string
		model       api.RequestModel
		unsupported []batch.Unsupported
	}{
		{"Pool - Add", poolAddModel, batch.UnsupportedPoolProperties},
		{"Job - Add", jobAddModel, batch.UnsupportedJobProperties},
		{"Pool - Patch", poolPatchModel, nil},
		{"Pool - Patch", poolUpdatePropertiesModel, nil},
		{"Job - Patch", jobPatchModel, nil},
		{"Job - Patch", jobUpdateModel, nil},
		{"Task - Add", taskAddModel, batch.UnsupportedTaskProperties},
	} {
		body := section(s.heading)
		for _, p := range s.model.Properties {
			if !strings.Contains(body, "`"+p+"`") && !strings.Contains(body, "`"+p+".") {
				t.Errorf("docs/compatibility.md, %s: no row for %s", s.heading, p)
			}
		}
		for _, u := range s.unsupported {
			last := u.Property[strings.LastIndex(u.Property, ".")+1:]
			if !strings.Contains(body, "`"+u.Property+"`") && !strings.Contains(body, "`"+last+"`") {
				t.Errorf("docs/compatibility.md, %s: refused %s is not named", s.heading, u.Property)
			}
		}
	}
	query := section("Query options")
	for _, o := range api.UnsupportedQueryOptions {
		if !strings.Contains(query, "`"+o+"`") {
			t.Errorf("docs/compatibility.md, query options: %s is not named", o)
		}
	}
}
