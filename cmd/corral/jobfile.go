package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"corral/agent"
	"corral/batch"
)

// jobFileHelp documents the job file format; `corral job submit --help` and `corral run --help`
// print it.
const jobFileHelp = `A job file is YAML (.yaml, .yml) or JSON (.json):

  id: wordcount          # the job's id: 1-64 letters, digits, '-', '_' (--id overrides;
                         # default: the file's name and the time)
  pool: local            # the pool that runs it (--pool overrides)
  env:                   # environment of every task (a task's own env wins)
    LANG: C.UTF-8
  maxRetries: 1          # default for every task: retries after a failed attempt (a
                         # non-zero exit code); 0: none (the default), -1: no limit
  tasks:
    - id: split
      shell: |           # a script, run by /bin/sh -c
        set -eu
        echo "one two three" > "$CORRAL_JOB_DIR/input.txt"
    - id: count
      shell: wc -w < "$CORRAL_JOB_DIR/input.txt"
      dependsOn: [split] # runs once these tasks of the file have succeeded; a dependency
                         # that fails blocks this task for ever
      env: {WORDS: "1"}
      requiredSlots: 1   # slots of one node it takes (default 1)
      maxRetries: 2      # overrides the job's
      maxWallClock: 10m  # an attempt is killed after this long (90s, 10m, 1h30m, or
                         # ISO 8601 as Azure writes it: PT10M)
      displayName: count the words
    - id: hello
      command: echo hello  # a command line, run directly and not under a shell (Azure
                           # Batch's commandLine); a list [echo, hello] is quoted for you

Each task has an id and exactly one of command and shell. Unknown fields are errors, so that a
typo does not silently change what runs. Tasks see the environment of Azure Batch's tasks
(AZ_BATCH_TASK_ID, AZ_BATCH_TASK_WORKING_DIR, AZ_BATCH_NODE_SHARED_DIR, …) and start in their
own working directory; tasks that share files need a directory they all see: ` + "`corral run`" + `
makes one and gives it to every task as CORRAL_JOB_DIR (with several machines, that takes a
shared file system).`

// jobHeader is the job-level part of a job file.
type jobHeader struct {
	ID               string            `yaml:"id" json:"id"`
	DisplayName      string            `yaml:"displayName" json:"displayName"`
	Pool             string            `yaml:"pool" json:"pool"`
	Env              map[string]string `yaml:"env" json:"env"`
	MaxRetries       *int32            `yaml:"maxRetries" json:"maxRetries"`
	MaxWallClock     *fileDuration     `yaml:"maxWallClock" json:"maxWallClock"`
	MaxParallelTasks *int32            `yaml:"maxParallelTasks" json:"maxParallelTasks"`
}

// jobFile is a job file as written.
type jobFile struct {
	jobHeader `yaml:",inline"`
	Tasks     []fileTask `yaml:"tasks" json:"tasks"`
}

// fileTask is one task of a job file.
type fileTask struct {
	ID            string            `yaml:"id" json:"id"`
	DisplayName   string            `yaml:"displayName" json:"displayName"`
	Command       commandArgs       `yaml:"command" json:"command"`
	Shell         string            `yaml:"shell" json:"shell"`
	DependsOn     stringList        `yaml:"dependsOn" json:"dependsOn"`
	Env           map[string]string `yaml:"env" json:"env"`
	RequiredSlots *int32            `yaml:"requiredSlots" json:"requiredSlots"`
	MaxRetries    *int32            `yaml:"maxRetries" json:"maxRetries"`
	MaxWallClock  *fileDuration     `yaml:"maxWallClock" json:"maxWallClock"`
}

// jobKeys and taskKeys are the fields a job file may have, in the order the help lists them.
var (
	jobKeys  = []string{"id", "displayName", "pool", "env", "maxRetries", "maxWallClock", "maxParallelTasks", "tasks"}
	taskKeys = []string{"id", "displayName", "command", "shell", "dependsOn", "env", "requiredSlots", "maxRetries", "maxWallClock"}
)

// commandArgs is a task's command: a command line, or a list of arguments to quote.
type commandArgs struct {
	Line string
	Args []string
}

func (c commandArgs) given() bool { return c.Line != "" || len(c.Args) > 0 }

// commandLine returns the command as Azure's commandLine.
func (c commandArgs) commandLine() string {
	if len(c.Args) > 0 {
		return agent.JoinCommandLine(c.Args)
	}
	return c.Line
}

// UnmarshalYAML reads a string or a list of strings.
func (c *commandArgs) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		c.Line = n.Value
		return nil
	case yaml.SequenceNode:
		return n.Decode(&c.Args)
	}
	return fmt.Errorf("line %d: command: want a command line or a list of arguments", n.Line)
}

// UnmarshalJSON reads a string or an array of strings.
func (c *commandArgs) UnmarshalJSON(b []byte) error {
	if json.Unmarshal(b, &c.Line) == nil {
		return nil
	}
	if json.Unmarshal(b, &c.Args) == nil {
		return nil
	}
	return &fieldError{"command", "want a command line (a string) or a list of arguments (strings)"}
}

// stringList is a list of strings that may be written as a single string.
type stringList []string

// UnmarshalYAML reads a string or a list of strings.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// UnmarshalJSON reads a string or an array of strings.
func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = stringList{one}
		return nil
	}
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return &fieldError{"dependsOn", "want a task id or a list of task ids"}
	}
	*l = s
	return nil
}

// fileDuration is a duration written as Go writes them (90s, 10m, 1h30m) or in ISO 8601 (PT10M).
type fileDuration time.Duration

func parseFileDuration(s string) (fileDuration, error) {
	var d time.Duration
	var err error
	if strings.HasPrefix(s, "P") {
		d, err = batch.ParseDuration(s)
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 90s, 10m, 1h30m or PT10M", s)
	}
	return fileDuration(d), nil
}

// UnmarshalYAML reads a duration.
func (d *fileDuration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseFileDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: maxWallClock: %w", n.Line, err)
	}
	*d = v
	return nil
}

// UnmarshalJSON reads a duration string.
func (d *fileDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &fieldError{"maxWallClock", `want a string such as "10m" or "PT10M"`}
	}
	v, err := parseFileDuration(s)
	if err != nil {
		return &fieldError{"maxWallClock", err.Error()}
	}
	*d = v
	return nil
}

func (d *fileDuration) batch() *batch.Duration {
	if d == nil {
		return nil
	}
	v := batch.Duration(*d)
	return &v
}

// positions are the line numbers of a job file's parts, for error messages.
type positions struct {
	top   map[string]int // job-level key -> line
	tasks []taskPos
}

type taskPos struct {
	line int            // where the task starts
	keys map[string]int // task key -> line
}

// taskLine returns the line of task i's key (or of the task, if the key is absent).
func (p positions) taskLine(i int, key string) int {
	if i >= len(p.tasks) {
		return 0
	}
	if l, ok := p.tasks[i].keys[key]; ok && key != "" {
		return l
	}
	return p.tasks[i].line
}

// parsedJob is a job file read and checked: the job and its tasks as the REST API takes them.
type parsedJob struct {
	Job   batch.Job
	Tasks []batch.Task
	// Pool is the pool the file names ("" if none).
	Pool string
	// IDFromFile says the job's id was written in the file (not made up from its name).
	IDFromFile bool
}

// fileError is a problem at a line of a job file.
type fileError struct {
	file string
	line int
	msg  string
}

func (e *fileError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.file, e.msg)
}

// readJobFile reads and checks a job file; see jobFileHelp. now names a job whose file has no id.
func readJobFile(path string, now time.Time) (*parsedJob, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the job file: %w", err)
	}
	return parseJobFile(path, data, now)
}

// parseJobFile parses a job file's contents; name is its path (for messages, the format and the
// default job id).
func parseJobFile(name string, data []byte, now time.Time) (*parsedJob, error) {
	var (
		f   jobFile
		pos positions
		err error
	)
	ext := strings.ToLower(filepath.Ext(name))
	isJSON := ext == ".json" || (ext != ".yaml" && ext != ".yml" && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")))
	if isJSON {
		f, pos, err = decodeJSONJob(name, data)
	} else {
		f, pos, err = decodeYAMLJob(name, data)
	}
	if err != nil {
		return nil, err
	}
	return checkJob(name, f, pos, now)
}

// decodeYAMLJob decodes a YAML job file; its errors name lines.
func decodeYAMLJob(name string, data []byte) (jobFile, positions, error) {
	var f jobFile
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return f, positions{}, yamlError(name, err, positions{})
	}
	if len(root.Content) == 0 {
		return f, positions{}, &fileError{file: name, msg: "the file is empty"}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return f, positions{}, &fileError{file: name, line: doc.Line, msg: "a job file is a mapping (id: …, tasks: […])"}
	}
	pos := positions{top: map[string]int{}}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		pos.top[k.Value] = k.Line
		if k.Value != "tasks" || v.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range v.Content {
			tp := taskPos{line: item.Line, keys: map[string]int{}}
			if item.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(item.Content); j += 2 {
					tp.keys[item.Content[j].Value] = item.Content[j].Line
				}
			}
			pos.tasks = append(pos.tasks, tp)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return f, pos, yamlError(name, err, pos)
	}
	return f, pos, nil
}

// keyAt returns the key written at line, if any.
func (p positions) keyAt(line int) string {
	for k, l := range p.top {
		if l == line {
			return k
		}
	}
	for _, t := range p.tasks {
		for k, l := range t.keys {
			if l == line {
				return k
			}
		}
	}
	return ""
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

var cannotUnmarshal = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")

// yamlError turns the YAML package's errors into "file:line: message" lines.
func yamlError(name string, err error, pos positions) error {
	var lines []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		lines = te.Errors
	} else {
		lines = []string{err.Error()}
	}
	var msgs []string
	for _, l := range lines {
		l = strings.TrimPrefix(l, "yaml: ")
		l = strings.ReplaceAll(l, "main.fileTask", "a task")
		l = strings.ReplaceAll(l, "main.jobFile", "the job")
		if m := yamlLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg := m[2]
			// A custom unmarshaller's error carries its own "line N: " prefix.
			if mm := yamlLine.FindStringSubmatch(msg); mm != nil {
				msg = mm[2]
			}
			if field, typ, ok := unknownField(msg); ok {
				msg = fmt.Sprintf("unknown field %q in %s (known: %s)", field, typ, strings.Join(knownKeys(typ), ", "))
			} else if m := cannotUnmarshal.FindStringSubmatch(msg); m != nil {
				msg = fmt.Sprintf("want %s, not %q", typeName(m[3]), m[2])
				if k := pos.keyAt(n); k != "" {
					msg = k + ": " + msg
				}
			}
			msgs = append(msgs, (&fileError{file: name, line: n, msg: msg}).Error())
			continue
		}
		msgs = append(msgs, name+": "+l)
	}
	return errors.New(strings.Join(msgs, "\n"))
}

var unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type (.*)$`)

func unknownField(msg string) (field, typ string, ok bool) {
	m := unknownFieldRE.FindStringSubmatch(msg)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func knownKeys(where string) []string {
	if where == "a task" {
		return taskKeys
	}
	return jobKeys
}

// decodeJSONJob decodes a JSON job file; its errors name lines.
func decodeJSONJob(name string, data []byte) (jobFile, positions, error) {
	var f jobFile
	pos, err := jsonPositions(name, data)
	if err != nil {
		return f, pos, err
	}
	// The tasks one by one, so that an error names its task's line.
	var top struct {
		jobHeader
		Tasks []json.RawMessage `json:"tasks"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return f, pos, jsonError(name, data, 0, err, pos.top)
	}
	f.jobHeader = top.jobHeader
	for i, raw := range top.Tasks {
		var t fileTask
		if err := json.Unmarshal(raw, &t); err != nil {
			var keys map[string]int
			if i < len(pos.tasks) {
				keys = pos.tasks[i].keys
			}
			return f, pos, jsonError(name, data, taskOffset(data, raw), err, keys)
		}
		f.Tasks = append(f.Tasks, t)
	}
	return f, pos, nil
}

// taskOffset returns where raw (a slice of data) starts in data.
func taskOffset(data, raw []byte) int64 {
	if len(raw) == 0 {
		return 0
	}
	// raw came from json.Unmarshal into a json.RawMessage, which copies: find it.
	if i := bytes.Index(data, raw); i >= 0 {
		return int64(i)
	}
	return 0
}

// jsonError writes a JSON decoding error with the line it happened at.
func jsonError(name string, data []byte, base int64, err error, keyLines map[string]int) error {
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, base+se.Offset)
		return &fileError{file: name, line: line, msg: fmt.Sprintf("column %d: %v", col, se)}
	case errors.As(err, &ute):
		line, _ := lineCol(data, base+ute.Offset)
		field := strings.TrimPrefix(ute.Field, "jobHeader.")
		if field == "" {
			field = "the file"
		}
		return &fileError{file: name, line: line, msg: fmt.Sprintf("%s must be %s, not a JSON %s", field, typeName(ute.Type.String()), ute.Value)}
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		line := keyLines[fe.key]
		if line == 0 && base > 0 {
			line, _ = lineCol(data, base)
		}
		return &fileError{file: name, line: line, msg: fe.Error()}
	}
	return &fileError{file: name, msg: err.Error()}
}

// fieldError is an error of one of the job file's own field types, naming its field.
type fieldError struct {
	key string
	msg string
}

func (e *fieldError) Error() string { return e.key + ": " + e.msg }

func typeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "*int"):
		return "a whole number"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "map["):
		return "an object"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a " + strings.TrimPrefix(t, "main.")
}

// lineCol returns the 1-based line and column of byte offset off in data.
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// jsonPositions walks a JSON job file's tokens: it finds the lines of the job's keys and of
// each task and its keys, and reports syntax errors and unknown keys with their lines.
func jsonPositions(name string, data []byte) (positions, error) {
	pos := positions{top: map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	fail := func(err error) (positions, error) {
		return pos, jsonError(name, data, 0, err, nil)
	}
	lineAt := func(off int64) int { l, _ := lineCol(data, off); return l }
	// skipSpace returns the offset of the next token at or after off.
	skipSpace := func(off int64) int64 {
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
			off++
		}
		return off
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return pos, &fileError{file: name, msg: "the file is empty"}
		}
		return fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return pos, &fileError{file: name, line: 1, msg: `a job file is an object ({"id": …, "tasks": […]})`}
	}
	var skip json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		line := lineAt(dec.InputOffset() - 1)
		if !slices.Contains(jobKeys, key) {
			return pos, &fileError{file: name, line: line, msg: fmt.Sprintf("unknown field %q in the job (known: %s)", key, strings.Join(jobKeys, ", "))}
		}
		pos.top[key] = line
		if key != "tasks" {
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue
		}
		start := skipSpace(dec.InputOffset())
		if start >= int64(len(data)) || data[start] != '[' {
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue // json.Unmarshal reports the type error
		}
		if _, err := dec.Token(); err != nil {
			return fail(err)
		}
		for dec.More() {
			at := skipSpace(dec.InputOffset())
			tp := taskPos{line: lineAt(at), keys: map[string]int{}}
			if at < int64(len(data)) && data[at] != '{' {
				if err := dec.Decode(&skip); err != nil {
					return fail(err)
				}
				pos.tasks = append(pos.tasks, tp)
				continue
			}
			if _, err := dec.Token(); err != nil {
				return fail(err)
			}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return fail(err)
				}
				k, _ := tok.(string)
				kl := lineAt(dec.InputOffset() - 1)
				if !slices.Contains(taskKeys, k) {
					return pos, &fileError{file: name, line: kl, msg: fmt.Sprintf("unknown field %q in a task (known: %s)", k, strings.Join(taskKeys, ", "))}
				}
				tp.keys[k] = kl
				if err := dec.Decode(&skip); err != nil {
					return fail(err)
				}
			}
			if _, err := dec.Token(); err != nil { // '}'
				return fail(err)
			}
			pos.tasks = append(pos.tasks, tp)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return fail(err)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return pos, &fileError{file: name, line: lineAt(dec.InputOffset()), msg: "unexpected data after the job's closing }"}
	}
	return pos, nil
}

// checkJob checks a decoded job file and builds the job and its tasks.
func checkJob(name string, f jobFile, pos positions, now time.Time) (*parsedJob, error) {
	errAt := func(line int, format string, args ...any) error {
		return &fileError{file: name, line: line, msg: fmt.Sprintf(format, args...)}
	}
	pj := &parsedJob{Pool: f.Pool, IDFromFile: f.ID != ""}
	id := f.ID
	if id == "" {
		id = defaultJobID(name, now)
	} else if !batch.ValidID(id) {
		return nil, errAt(pos.top["id"], "job id %q: use 1 to 64 letters, digits, '-' and '_'", id)
	}
	if f.Pool != "" && !batch.ValidID(f.Pool) {
		return nil, errAt(pos.top["pool"], "pool id %q: use 1 to 64 letters, digits, '-' and '_'", f.Pool)
	}
	if len(f.Tasks) == 0 {
		return nil, errAt(pos.top["tasks"], "the job has no tasks (tasks: [{id: …, command: …}, …])")
	}
	job := batch.Job{ID: id, DisplayName: f.DisplayName, PoolInfo: batch.PoolInformation{PoolID: f.Pool}}
	if f.MaxRetries != nil || f.MaxWallClock != nil {
		job.Constraints = &batch.JobConstraints{MaxTaskRetryCount: f.MaxRetries, MaxWallClockTime: f.MaxWallClock.batch()}
	}
	job.MaxParallelTasks = f.MaxParallelTasks
	index := map[string]int{} // IDKey -> task index
	for i, t := range f.Tasks {
		line := pos.taskLine(i, "")
		if t.ID == "" {
			return nil, errAt(line, "task %d has no id", i+1)
		}
		if !batch.ValidID(t.ID) {
			return nil, errAt(pos.taskLine(i, "id"), "task id %q: use 1 to 64 letters, digits, '-' and '_'", t.ID)
		}
		if j, dup := index[batch.IDKey(t.ID)]; dup {
			return nil, errAt(pos.taskLine(i, "id"), "task id %q is used twice (also at line %d; ids ignore case)", t.ID, pos.taskLine(j, "id"))
		}
		index[batch.IDKey(t.ID)] = i
		if len(t.DependsOn) > 0 {
			job.UsesTaskDependencies = batch.Ptr(true)
		}
	}
	for i, t := range f.Tasks {
		switch {
		case t.Command.given() && t.Shell != "":
			return nil, errAt(pos.taskLine(i, "shell"), "task %q has both command and shell: give one", t.ID)
		case !t.Command.given() && t.Shell == "":
			return nil, errAt(pos.taskLine(i, ""), "task %q has neither command nor shell", t.ID)
		}
		for _, d := range t.DependsOn {
			j, ok := index[batch.IDKey(d)]
			switch {
			case !ok:
				return nil, errAt(pos.taskLine(i, "dependsOn"), "task %q depends on %q, which is not a task of this file", t.ID, d)
			case j == i:
				return nil, errAt(pos.taskLine(i, "dependsOn"), "task %q depends on itself", t.ID)
			}
		}
	}
	if cycle := findCycle(f.Tasks, index); cycle != nil {
		i := index[batch.IDKey(cycle[0])]
		return nil, errAt(pos.taskLine(i, "dependsOn"), "the dependencies form a cycle: %s", strings.Join(cycle, " -> "))
	}
	// Azure requires a pool; the file may leave it to --pool.
	jv := job
	if jv.PoolInfo.PoolID == "" {
		jv.PoolInfo.PoolID = "pool"
	}
	if err := batch.ValidateJob(jv); err != nil {
		// A job's maxWallClock and maxParallelTasks are Azure's; the service does not enforce
		// them yet, so it refuses them, and so does the file, at their line.
		var be *batch.Error
		if errors.As(err, &be) && be.Code == batch.CodeUnsupportedProperty {
			for _, k := range []struct{ property, key string }{
				{"constraints.maxWallClockTime", "maxWallClock"}, {"maxParallelTasks", "maxParallelTasks"},
			} {
				if be.Value(batch.KeyPropertyName) == k.property {
					return nil, errAt(pos.top[k.key], "%s: not supported: %s", k.key, be.Value(batch.KeyReason))
				}
			}
		}
		return nil, errAt(0, "%s", batchMessage(err))
	}
	for i, t := range f.Tasks {
		bt := batch.Task{ID: t.ID, DisplayName: t.DisplayName, RequiredSlots: t.RequiredSlots}
		if t.Shell != "" {
			bt.CommandLine = agent.JoinCommandLine([]string{"/bin/sh", "-c", t.Shell})
		} else {
			bt.CommandLine = t.Command.commandLine()
		}
		if len(t.DependsOn) > 0 {
			bt.DependsOn = &batch.TaskDependencies{TaskIDs: slices.Clone(t.DependsOn)}
		}
		bt.EnvironmentSettings = mergeEnv(f.Env, t.Env)
		retries := t.MaxRetries
		if retries == nil {
			retries = f.MaxRetries
		}
		if retries != nil || t.MaxWallClock != nil {
			bt.Constraints = &batch.TaskConstraints{MaxTaskRetryCount: retries, MaxWallClockTime: t.MaxWallClock.batch()}
		}
		if err := batch.ValidateTask(bt, job, nil); err != nil {
			return nil, errAt(pos.taskLine(i, propertyKey(err)), "task %q: %s", t.ID, batchMessage(err))
		}
		pj.Tasks = append(pj.Tasks, bt)
	}
	pj.Job = job
	return pj, nil
}

// defaultJobID names a job whose file gives no id: the file's name (letters, digits, '-' and
// '_' only) and the time.
func defaultJobID(name string, now time.Time) string {
	name = filepath.Base(name)
	base := strings.TrimSuffix(name, filepath.Ext(name))
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	if s == "" {
		s = "job"
	}
	return s + "-" + now.Format("20060102-150405")
}

// mergeEnv returns the job's environment overlaid with the task's, sorted by name.
func mergeEnv(job, task map[string]string) []batch.EnvironmentSetting {
	all := map[string]string{}
	for k, v := range job {
		all[k] = v
	}
	for k, v := range task {
		all[k] = v
	}
	if len(all) == 0 {
		return nil
	}
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]batch.EnvironmentSetting, len(names))
	for i, k := range names {
		out[i] = batch.EnvironmentSetting{Name: k, Value: all[k]}
	}
	return out
}

// findCycle returns a dependency cycle among the file's tasks (first id repeated at the end),
// or nil.
func findCycle(tasks []fileTask, index map[string]int) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(tasks))
	var path []int
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = onPath
		path = append(path, i)
		for _, d := range tasks[i].DependsOn {
			j := index[batch.IDKey(d)]
			switch state[j] {
			case onPath:
				k := slices.Index(path, j)
				var ids []string
				for _, p := range path[k:] {
					ids = append(ids, tasks[p].ID)
				}
				return append(ids, tasks[j].ID)
			case unseen:
				if c := visit(j); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = done
		return nil
	}
	for i := range tasks {
		if state[i] == unseen {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// batchMessage is a batch.Error's reason and the value it is about, or its message.
func batchMessage(err error) string {
	var be *batch.Error
	if !errors.As(err, &be) {
		return err.Error()
	}
	var reason, value string
	hasValue := false
	for _, kv := range be.Values {
		switch kv.Key {
		case batch.KeyReason:
			reason = kv.Value
		case batch.KeyPropertyValue:
			value, hasValue = kv.Value, true
		}
	}
	if reason == "" {
		return be.Message
	}
	if hasValue {
		return fmt.Sprintf("%s (not %s)", reason, value)
	}
	return reason
}

// propertyKey maps the property a batch.Error names to the job file's key.
func propertyKey(err error) string {
	var be *batch.Error
	if !errors.As(err, &be) {
		return ""
	}
	for _, kv := range be.Values {
		if kv.Key != batch.KeyPropertyName {
			continue
		}
		switch p := kv.Value; {
		case p == "environmentSettings":
			return "env"
		case strings.Contains(p, "maxTaskRetryCount"):
			return "maxRetries"
		case strings.Contains(p, "maxWallClockTime"):
			return "maxWallClock"
		case p == "commandLine":
			return "command"
		default:
			return p
		}
	}
	return ""
}
