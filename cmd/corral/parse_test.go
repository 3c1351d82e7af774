package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"corral/batch"
)

// parser is a verb's parse function with its options type erased, for one table.
type parser func(args []string, getenv func(string) string) (any, error)

func wrap[O any](f func(*flag.FlagSet, []string, func(string) string) (O, error)) parser {
	return func(args []string, getenv func(string) string) (any, error) {
		o, err := f(newFlagSet("test"), args, getenv)
		if err != nil {
			return nil, err
		}
		return o, nil
	}
}

func TestParseVerbs(t *testing.T) {
	key := []byte("test-key-0123456789")
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "account.key"), []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	baseEnv := map[string]string{"CORRAL_DATA": data}
	conn := connOptions{URL: defaultURL, Account: "corral", Key: key}
	withURL := func(c connOptions, u string) connOptions { c.URL, c.URLGiven = u, true; return c }

	tests := []struct {
		name  string
		parse parser
		args  []string
		env   map[string]string // added to baseEnv
		want  any
		err   string // a substring of the error; "usage:" also requires a usage error
	}{
		// pool join-token, pool machines
		{name: "join-token defaults", parse: wrap(parsePoolJoinToken), args: []string{"p1"},
			want: &poolJoinTokenOptions{Conn: conn, PoolID: "p1", TTL: time.Hour}},
		{name: "join-token ttl", parse: wrap(parsePoolJoinToken), args: []string{"p1", "--ttl", "24h"},
			want: &poolJoinTokenOptions{Conn: conn, PoolID: "p1", TTL: 24 * time.Hour}},
		{name: "join-token list", parse: wrap(parsePoolJoinToken), args: []string{"p1", "--list"},
			want: &poolJoinTokenOptions{Conn: conn, PoolID: "p1", TTL: time.Hour, List: true}},
		{name: "join-token revoke", parse: wrap(parsePoolJoinToken), args: []string{"p1", "--revoke", "abc"},
			want: &poolJoinTokenOptions{Conn: conn, PoolID: "p1", TTL: time.Hour, Revoke: "abc"}},
		{name: "join-token ttl too long", parse: wrap(parsePoolJoinToken), args: []string{"p1", "--ttl", "200h"}, err: "usage: --ttl 200h0m0s: want 1s to 168h"},
		{name: "join-token list and revoke", parse: wrap(parsePoolJoinToken), args: []string{"p1", "--list", "--revoke", "x"}, err: "usage: --list and --revoke"},
		{name: "join-token no pool", parse: wrap(parsePoolJoinToken), args: nil, err: "usage: missing the pool id"},
		{name: "machines", parse: wrap(parsePoolMachines), args: []string{"p1"}, want: &poolMachinesOptions{Conn: conn, PoolID: "p1"}},
		{name: "machines forget", parse: wrap(parsePoolMachines), args: []string{"p1", "--forget", "m-1"},
			want: &poolMachinesOptions{Conn: conn, PoolID: "p1", Forget: "m-1"}},
		{name: "machines bad pool", parse: wrap(parsePoolMachines), args: []string{"a/b"}, err: `usage: pool id "a/b"`},
		// pool create
		{name: "pool create defaults", parse: wrap(parsePoolCreate), args: []string{"p1"},
			want: &poolCreateOptions{Conn: conn, ID: "p1", Nodes: 1, Slots: 1}},
		{name: "pool create all flags", parse: wrap(parsePoolCreate), args: []string{"p1", "--nodes", "3", "--slots=4", "--fill", "pack"},
			want: &poolCreateOptions{Conn: conn, ID: "p1", Nodes: 3, Slots: 4, Fill: batch.FillPack}},
		{name: "pool create flags first", parse: wrap(parsePoolCreate), args: []string{"--nodes", "2", "p1", "--url", "http://h:1/"},
			want: &poolCreateOptions{Conn: withURL(conn, "http://h:1"), ID: "p1", Nodes: 2, Slots: 1}},
		{name: "pool create no id", parse: wrap(parsePoolCreate), args: []string{"--nodes", "2"}, err: "usage: missing the pool id"},
		{name: "pool create two ids", parse: wrap(parsePoolCreate), args: []string{"p1", "p2"}, err: "usage: unexpected arguments after the pool id: p2"},
		{name: "pool create bad id", parse: wrap(parsePoolCreate), args: []string{"a/b"}, err: `usage: pool id "a/b"`},
		{name: "pool create bad fill", parse: wrap(parsePoolCreate), args: []string{"p1", "--fill", "heap"}, err: `usage: --fill "heap"`},
		{name: "pool create zero slots", parse: wrap(parsePoolCreate), args: []string{"p1", "--slots", "0"}, err: "usage: --slots 0"},
		{name: "pool create bad number", parse: wrap(parsePoolCreate), args: []string{"p1", "--nodes", "many"}, err: "usage: invalid value"},
		{name: "pool create unknown flag", parse: wrap(parsePoolCreate), args: []string{"p1", "--vm", "x"}, err: "usage: flag provided but not defined: -vm"},
		{name: "help", parse: wrap(parsePoolCreate), args: []string{"--help"}, err: flag.ErrHelp.Error()},

		// connection
		{name: "CORRAL_URL", parse: wrap(parsePoolList), env: map[string]string{"CORRAL_URL": "https://batch.example:443"},
			want: &poolListOptions{Conn: withURL(conn, "https://batch.example:443")}},
		{name: "--url beats CORRAL_URL", parse: wrap(parsePoolList), args: []string{"--url", "http://a:1"}, env: map[string]string{"CORRAL_URL": "http://b:2"},
			want: &poolListOptions{Conn: withURL(conn, "http://a:1")}},
		{name: "bad url", parse: wrap(parsePoolList), args: []string{"--url", "127.0.0.1:8765"}, err: "usage: --url"},
		{name: "key and name from the environment", parse: wrap(parsePoolList),
			env:  map[string]string{"CORRAL_ACCOUNT_KEY": base64.StdEncoding.EncodeToString([]byte("other")), "CORRAL_ACCOUNT_NAME": "acct"},
			want: &poolListOptions{Conn: connOptions{URL: defaultURL, Account: "acct", Key: []byte("other")}}},
		{name: "bad key", parse: wrap(parsePoolList), env: map[string]string{"CORRAL_ACCOUNT_KEY": "not base64!"}, err: "CORRAL_ACCOUNT_KEY is not a base64-encoded key"},
		{name: "pool list json", parse: wrap(parsePoolList), args: []string{"--json"}, want: &poolListOptions{Conn: conn, JSON: true}},
		{name: "pool list extra", parse: wrap(parsePoolList), args: []string{"p1"}, err: "usage: unexpected arguments"},

		// pool show
		{name: "pool show", parse: wrap(parsePoolShow), args: []string{"p1", "--json"}, want: &poolShowOptions{Conn: conn, ID: "p1", JSON: true}},
		{name: "pool show no id", parse: wrap(parsePoolShow), err: "usage: missing the pool id"},

		// job submit
		{name: "job submit", parse: wrap(parseJobSubmit), args: []string{"job.yaml"}, want: &jobSubmitOptions{Conn: conn, File: "job.yaml"}},
		{name: "job submit overrides", parse: wrap(parseJobSubmit), args: []string{"--pool", "p2", "job.yaml", "--id", "j9", "--env", "A=1", "--env", "B=x=y"},
			want: &jobSubmitOptions{Conn: conn, File: "job.yaml", Pool: "p2", ID: "j9", Env: envFlag{{"A", "1"}, {"B", "x=y"}}}},
		{name: "job submit after --", parse: wrap(parseJobSubmit), args: []string{"--id", "j", "--", "-odd.yaml"},
			want: &jobSubmitOptions{Conn: conn, File: "-odd.yaml", ID: "j"}},
		{name: "job submit bad env", parse: wrap(parseJobSubmit), args: []string{"job.yaml", "--env", "A"}, err: "usage: invalid value \"A\" for flag -env: want NAME=VALUE"},
		{name: "job submit bad id", parse: wrap(parseJobSubmit), args: []string{"job.yaml", "--id", "a b"}, err: `usage: --id "a b"`},
		{name: "job submit no file", parse: wrap(parseJobSubmit), err: "usage: missing the job file"},

		// job watch, list, terminate
		{name: "job watch", parse: wrap(parseJobWatch), args: []string{"j1"}, want: &jobWatchOptions{Conn: conn, JobID: "j1", Interval: time.Second}},
		{name: "job watch interval", parse: wrap(parseJobWatch), args: []string{"j1", "--interval", "250ms"}, want: &jobWatchOptions{Conn: conn, JobID: "j1", Interval: 250 * time.Millisecond}},
		{name: "job watch tiny interval", parse: wrap(parseJobWatch), args: []string{"j1", "--interval", "1ms"}, err: "usage: --interval 1ms"},
		{name: "job list", parse: wrap(parseJobList), want: &jobListOptions{Conn: conn}},
		{name: "job terminate", parse: wrap(parseJobTerminate), args: []string{"j1", "--reason", "enough"}, want: &jobTerminateOptions{Conn: conn, JobID: "j1", Reason: "enough"}},

		// task verbs
		{name: "task list", parse: wrap(parseTaskList), args: []string{"j1"}, want: &taskListOptions{Conn: conn, JobID: "j1"}},
		{name: "task show", parse: wrap(parseTaskShow), args: []string{"j1", "t1"}, want: &taskShowOptions{Conn: conn, JobID: "j1", TaskID: "t1"}},
		{name: "task show no task", parse: wrap(parseTaskShow), args: []string{"j1"}, err: "usage: missing the task id"},
		{name: "task show nothing", parse: wrap(parseTaskShow), err: "usage: missing the job id and the task id"},
		{name: "task output", parse: wrap(parseTaskOutput), args: []string{"j1", "--stderr", "t1"}, want: &taskOutputOptions{Conn: conn, JobID: "j1", TaskID: "t1", Stderr: true}},
		{name: "task explain", parse: wrap(parseTaskExplain), args: []string{"j1", "t1"}, want: &taskExplainOptions{Conn: conn, JobID: "j1", TaskID: "t1"}},
		{name: "task explain extra", parse: wrap(parseTaskExplain), args: []string{"j1", "t1", "t2"}, err: "usage: unexpected arguments after the task id: t2"},

		// run
		{name: "run defaults", parse: wrap(parseRun), args: []string{"wc.yaml"},
			want: &runOptions{Conn: conn, File: "wc.yaml", Nodes: 1, Slots: defaultSlots(), Interval: 500 * time.Millisecond}},
		{name: "run embedded", parse: wrap(parseRun), args: []string{"wc.yaml", "--embedded", "--nodes", "2", "--slots", "3", "--out", "o", "--pool", "p", "--id", "j"},
			want: &runOptions{Conn: conn, File: "wc.yaml", Embedded: true, Nodes: 2, Slots: 3, Out: "o", Pool: "p", ID: "j", Interval: 500 * time.Millisecond}},
		{name: "run --data implies --embedded", parse: wrap(parseRun), args: []string{"wc.yaml", "--data", "d"},
			want: &runOptions{Conn: conn, File: "wc.yaml", Embedded: true, Data: "d", Nodes: 1, Slots: defaultSlots(), Interval: 500 * time.Millisecond}},
		{name: "run --embedded with CORRAL_URL", parse: wrap(parseRun), args: []string{"wc.yaml", "--embedded"}, env: map[string]string{"CORRAL_URL": "http://h:1"},
			want: &runOptions{Conn: withURL(conn, "http://h:1"), File: "wc.yaml", Embedded: true, Nodes: 1, Slots: defaultSlots(), Interval: 500 * time.Millisecond}},
		{name: "run --url and --embedded", parse: wrap(parseRun), args: []string{"wc.yaml", "--embedded", "--url", "http://h:1"}, err: "usage: --url is a running server's"},
		{name: "run zero nodes", parse: wrap(parseRun), args: []string{"wc.yaml", "--nodes", "0"}, err: "usage: --nodes 0"},
		{name: "run no file", parse: wrap(parseRun), err: "usage: missing the job file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range baseEnv {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := tt.parse(tt.args, func(k string) string { return env[k] })
			checkParsed(t, got, err, tt.want, tt.err)
		})
	}
}

// checkParsed compares what a parser returned with a table row: wantErr is a substring of the
// error ("usage: " also requires a usage error), or empty when want is expected.
func checkParsed(t *testing.T, got any, err error, want any, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if rest, ok := strings.CutPrefix(wantErr, "usage: "); ok {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v (%T), want a usage error", err, err)
			}
			wantErr = rest
		}
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want it to contain %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseNoKey(t *testing.T) {
	env := map[string]string{"CORRAL_DATA": t.TempDir()}
	o, err := parsePoolList(newFlagSet("pool list"), nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// Parsing succeeds (corral run needs no key when it starts its own server); the request
	// fails with a message that says where a key comes from.
	_, err = newClient(o.Conn)
	if err == nil || !strings.Contains(err.Error(), "CORRAL_ACCOUNT_KEY") || !strings.Contains(err.Error(), "account.key") {
		t.Errorf("newClient: %v", err)
	}
}

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CORRAL_DATA": "/d", "XDG_DATA_HOME": "/x", "HOME": "/h"}, "/d"},
		{map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, "/x/corral"},
		{map[string]string{"HOME": "/h"}, "/h/.local/share/corral"},
	}
	for _, tt := range tests {
		if got := defaultDataDirFrom(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("defaultDataDirFrom(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestGroups(t *testing.T) {
	tests := []runCase{
		{args: []string{"pool"}, code: 2, stderrIn: "usage: corral pool <command>"},
		{args: []string{"job", "help"}, code: 0, stdout: "corral job submit FILE"},
		{args: []string{"task", "frob"}, code: 2, stderrIn: `corral task: unknown command "frob"`},
		{args: []string{"task", "explain", "--help"}, code: 0, stdout: "usage: corral task explain JOB TASK"},
		{args: []string{"job", "submit", "--help"}, code: 0, stdout: "dependsOn: [split]"},
		{args: []string{"run", "--help"}, code: 0, stdout: "--embedded"},
		{args: []string{"pool", "create"}, code: 2, stderrIn: "corral pool create: missing the pool id\nusage: corral pool create ID"},
		{args: []string{"run", "/nonexistent/job.yaml", "--embedded"}, code: 1, stderrIn: "read the job file"},
	}
	checkRuns(t, tests)
}
