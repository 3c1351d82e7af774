package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"corral/batch"
)

var fileNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestParseWordcountExample(t *testing.T) {
	pj, err := readJobFile("../../examples/jobs/wordcount.yaml", fileNow)
	if err != nil {
		t.Fatal(err)
	}
	if pj.Job.ID != "wordcount" || pj.Pool != "local" || !pj.IDFromFile || !pj.Job.UsesDependencies() {
		t.Errorf("job = %+v, pool %q", pj.Job, pj.Pool)
	}
	var ids []string
	for _, tk := range pj.Tasks {
		ids = append(ids, tk.ID)
	}
	if want := []string{"split", "count-1", "count-2", "count-3", "count-4", "merge"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("tasks = %v, want %v", ids, want)
	}
	c1, c4 := pj.Tasks[1], pj.Tasks[4]
	if c1.CommandLine != c4.CommandLine || !strings.HasPrefix(c1.CommandLine, "/bin/sh -c '") {
		t.Errorf("the count tasks' commands differ or are not shell scripts:\n%s\n%s", c1.CommandLine, c4.CommandLine)
	}
	if want := []batch.EnvironmentSetting{{Name: "LC_ALL", Value: "C"}, {Name: "PART", Value: "4"}}; !reflect.DeepEqual(c4.EnvironmentSettings, want) {
		t.Errorf("count-4 env = %+v, want %+v", c4.EnvironmentSettings, want)
	}
	if got := pj.Tasks[5].DependsOn.TaskIDs; len(got) != 4 {
		t.Errorf("merge depends on %v", got)
	}
}

func TestParseJobFile(t *testing.T) {
	yamlJob := `
id: j1
pool: p1
env: {A: "1", B: 2}
maxRetries: 1
tasks:
  - id: first
    command: [echo, "hello world"]
    maxWallClock: PT10M
  - id: second
    displayName: the second
    command: echo two
    dependsOn: first
    env: {B: three}
    requiredSlots: 2
    maxRetries: 0
    maxWallClock: 90s
`
	jsonJob := `{
	"id": "j1",
	"pool": "p1",
	"env": {"A": "1", "B": "2"},
	"maxRetries": 1,
	"tasks": [
		{"id": "first", "command": ["echo", "hello world"], "maxWallClock": "PT10M"},
		{"id": "second", "displayName": "the second", "command": "echo two", "dependsOn": "first",
		 "env": {"B": "three"}, "requiredSlots": 2, "maxRetries": 0, "maxWallClock": "90s"}
	]
}`
	want := &parsedJob{
		Pool:       "p1",
		IDFromFile: true,
		Job: batch.Job{
			ID: "j1", UsesTaskDependencies: batch.Ptr(true), PoolInfo: batch.PoolInformation{PoolID: "p1"},
			Constraints: &batch.JobConstraints{MaxTaskRetryCount: batch.Ptr(int32(1))},
		},
		Tasks: []batch.Task{
			{ID: "first", CommandLine: "echo 'hello world'",
				EnvironmentSettings: []batch.EnvironmentSetting{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
				Constraints:         &batch.TaskConstraints{MaxTaskRetryCount: batch.Ptr(int32(1)), MaxWallClockTime: batch.Ptr(batch.Duration(10 * time.Minute))}},
			{ID: "second", DisplayName: "the second", CommandLine: "echo two", RequiredSlots: batch.Ptr(int32(2)),
				DependsOn:           &batch.TaskDependencies{TaskIDs: []string{"first"}},
				EnvironmentSettings: []batch.EnvironmentSetting{{Name: "A", Value: "1"}, {Name: "B", Value: "three"}},
				Constraints:         &batch.TaskConstraints{MaxTaskRetryCount: batch.Ptr(int32(0)), MaxWallClockTime: batch.Ptr(batch.Duration(90 * time.Second))}},
		},
	}
	for _, tc := range []struct{ name, src string }{{"job.yaml", yamlJob}, {"job.json", jsonJob}, {"job.txt", jsonJob}, {"job", yamlJob}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseJobFile(tc.name, []byte(tc.src), fileNow)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
				for i := range got.Tasks {
					t.Logf("task %d: %+v", i, got.Tasks[i])
				}
			}
		})
	}
}

func TestParseJobFileDefaults(t *testing.T) {
	pj, err := parseJobFile("my job.yaml", []byte("tasks:\n  - id: a\n    shell: echo \"$HOME\" | wc -c\n"), fileNow)
	if err != nil {
		t.Fatal(err)
	}
	if pj.Job.ID != "my-job-20260304-050607" || pj.IDFromFile || pj.Pool != "" || pj.Job.UsesTaskDependencies != nil {
		t.Errorf("job = %+v", pj.Job)
	}
	if got, want := pj.Tasks[0].CommandLine, `/bin/sh -c 'echo "$HOME" | wc -c'`; got != want {
		t.Errorf("command line = %s, want %s", got, want)
	}
	if pj.Tasks[0].Constraints != nil || pj.Tasks[0].EnvironmentSettings != nil {
		t.Errorf("task = %+v", pj.Tasks[0])
	}
}

func TestJobFileErrors(t *testing.T) {
	tests := []struct {
		name string // its extension says the format
		src  string
		want string // a substring of the error
	}{
		// YAML
		{"empty.yaml", "", "empty.yaml: the file is empty"},
		{"list.yaml", "- a\n- b\n", "list.yaml:1: a job file is a mapping"},
		{"syntax.yaml", "id: a\ntasks:\n  - id: b\n   command: x\n", "syntax.yaml:2: did not find expected '-' indicator"},
		{"field.yaml", "id: a\ntasks:\n  - id: b\n    command: x\n    dependson: [c]\n", `field.yaml:5: unknown field "dependson" in a task (known: id, displayName, command, shell, dependsOn`},
		{"top.yaml", "id: a\npools: x\ntasks:\n  - id: b\n    command: x\n", `top.yaml:2: unknown field "pools" in the job`},
		{"type.yaml", "tasks:\n  - id: b\n    command: x\n    requiredSlots: many\n", `type.yaml:4: requiredSlots: want a whole number, not "many"`},
		{"dur.yaml", "tasks:\n  - id: b\n    command: x\n    maxWallClock: forever\n", `dur.yaml:4: maxWallClock: "forever" is not a positive duration`},
		{"cmdmap.yaml", "tasks:\n  - id: b\n    command: {a: b}\n", "cmdmap.yaml:3: command: want a command line or a list of arguments"},
		{"notasks.yaml", "id: a\ntasks: []\n", "notasks.yaml:2: the job has no tasks"},
		{"noid.yaml", "tasks:\n  - command: x\n", "noid.yaml:2: task 1 has no id"},
		{"badid.yaml", "tasks:\n  - command: x\n    id: a.b\n", `badid.yaml:3: task id "a.b"`},
		{"jobid.yaml", "id: a b\ntasks:\n  - {id: x, command: x}\n", `jobid.yaml:1: job id "a b"`},
		{"dup.yaml", "tasks:\n  - id: a\n    command: x\n  - id: A\n    command: y\n", `dup.yaml:4: task id "A" is used twice (also at line 2`},
		{"both.yaml", "tasks:\n  - id: a\n    command: x\n    shell: y\n", `both.yaml:4: task "a" has both command and shell`},
		{"neither.yaml", "tasks:\n  - id: a\n    env: {X: y}\n", `neither.yaml:2: task "a" has neither command nor shell`},
		{"dep.yaml", "tasks:\n  - id: a\n    command: x\n  - id: b\n    command: x\n    dependsOn: [a, c]\n", `dep.yaml:6: task "b" depends on "c", which is not a task of this file`},
		{"self.yaml", "tasks:\n  - id: a\n    command: x\n    dependsOn: [a]\n", `self.yaml:4: task "a" depends on itself`},
		{"cycle.yaml", "tasks:\n  - {id: a, command: x, dependsOn: [c]}\n  - {id: b, command: x, dependsOn: [a]}\n  - {id: c, command: x, dependsOn: [b]}\n",
			"cycle.yaml:2: the dependencies form a cycle: a -> c -> b -> a"},
		{"slots.yaml", "tasks:\n  - id: a\n    command: x\n    requiredSlots: 0\n", `slots.yaml:4: task "a": requiredSlots must be at least 1`},
		{"retries.yaml", "tasks:\n  - id: a\n    command: x\n    maxRetries: -2\n", `retries.yaml:4: task "a": maxTaskRetryCount must be -1 (no limit) or greater`},
		// The service does not enforce a job's maxWallClockTime or maxParallelTasks: refused.
		{"jobclock.yaml", "id: a\nmaxWallClock: 2h\ntasks:\n  - {id: x, command: x}\n", "jobclock.yaml:2: maxWallClock: not supported: a job's maxWallClockTime is not enforced yet"},
		{"parallel.yaml", "id: a\nmaxParallelTasks: 3\ntasks:\n  - {id: x, command: x}\n", "parallel.yaml:2: maxParallelTasks: not supported: maxParallelTasks is not enforced yet"},

		// JSON
		{"empty.json", "  ", "empty.json: the file is empty"},
		{"array.json", "[]", "array.json:1: a job file is an object"},
		{"syntax.json", "{\n  \"id\": \"a\",\n  \"tasks\": [\n    {\"id\": \"b\" \"command\": \"x\"}\n  ]\n}", "syntax.json:4: column 16: invalid character '\"' after object key:value pair"},
		{"field.json", "{\n  \"tasks\": [\n    {\"id\": \"b\",\n     \"comand\": \"x\"}\n  ]\n}", `field.json:4: unknown field "comand" in a task`},
		{"top.json", "{\n  \"id\": \"a\",\n  \"Tasks\": []\n}", `top.json:3: unknown field "Tasks" in the job`},
		{"type.json", "{\n  \"tasks\": [\n    {\"id\": \"b\", \"command\": \"x\",\n     \"requiredSlots\": \"two\"}\n  ]\n}", "type.json:4: requiredSlots must be a whole number, not a JSON string"},
		{"toptype.json", "{\n  \"id\": 7,\n  \"tasks\": []\n}", "toptype.json:2: id must be a string, not a JSON number"},
		{"dur.json", "{\"tasks\": [\n  {\"id\": \"b\", \"command\": \"x\",\n   \"maxWallClock\": \"PT\"}\n]}", `dur.json:3: maxWallClock: "PT" is not a positive duration`},
		{"cmd.json", "{\"tasks\": [\n  {\"id\": \"b\",\n   \"command\": 5}\n]}", "cmd.json:3: command: want a command line"},
		{"dep.json", "{\"tasks\": [\n  {\"id\": \"a\", \"command\": \"x\"},\n  {\"id\": \"b\", \"command\": \"x\",\n   \"dependsOn\": [\"z\"]}\n]}", `dep.json:4: task "b" depends on "z"`},
		{"trailing.json", "{\"tasks\": [{\"id\": \"a\", \"command\": \"x\"}]}\n{}", "trailing.json:2: unexpected data after the job's closing }"},
		{"notasks.json", "{\"id\": \"a\"}", "notasks.json: the job has no tasks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseJobFile(tt.name, []byte(tt.src), fileNow)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestJobFileHelpParses keeps the example in the help text a valid job file.
func TestJobFileHelpParses(t *testing.T) {
	_, rest, _ := strings.Cut(jobFileHelp, "\n\n")
	example, _, _ := strings.Cut(rest, "\n\n")
	var lines []string
	for _, l := range strings.Split(example, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	pj, err := parseJobFile("help.yaml", []byte(strings.Join(lines, "\n")), fileNow)
	if err != nil {
		t.Fatalf("the help's example: %v\n%s", err, example)
	}
	if len(pj.Tasks) != 3 || pj.Job.ID != "wordcount" {
		t.Errorf("the help's example: %+v", pj)
	}
}
