// Command corral is Corral's single binary: the server, the node agent and the CLI verbs.
//
// Usage:
//
//	corral run FILE [--pool ID] [--id ID] [--url URL | --embedded] [--data DIR] [--out DIR]
//	corral pool create ID [--nodes N] [--slots S] [--fill spread|pack]
//	corral pool list | show ID
//	corral pool resize ID [--dedicated N] [--low-priority M] [--timeout DUR] [--deallocation OPTION]
//	corral pool stop-resize ID
//	corral pool autoscale ID (--formula F | --formula-file PATH) [--interval DUR] | ID --disable
//	corral pool evaluate ID (--formula F | --formula-file PATH)
//	corral pool remove-nodes ID NODE... [--timeout DUR] [--deallocation OPTION]
//	corral pool history ID | counts
//	corral node evict POOL NODE
//	corral job submit FILE [--pool ID] [--id ID]
//	corral job watch ID | list | terminate ID
//	corral task list JOB | show JOB TASK | output JOB TASK [--stderr] | explain JOB TASK
//	corral server [--listen ADDR] [--data DIR] [--tls | --tls-cert FILE --tls-key FILE | --plain-http]
//	corral agent [--root DIR] [--server URL --join TOKEN] [--ca FILE] [--tls-server-name NAME]
//	corral version
//
// The CLI verbs reach a server at --url (default $CORRAL_URL, else http://127.0.0.1:8765) and
// sign their requests with the account key from CORRAL_ACCOUNT_NAME and CORRAL_ACCOUNT_KEY, else
// the key `corral server` keeps in its default data directory. An https:// server's certificate
// must chain to the CA of --ca (default $CORRAL_CA_CERT, else the default data directory's
// tls/ca.crt when it exists, else the system's roots).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise it comes from the
// module's build information.
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one verb and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return dispatch(args, newStreams(stdout, stderr))
}

// dispatch executes one verb with the given streams and environment (the CLI verbs read the
// environment through s.Getenv; server and agent read the process's).
func dispatch(args []string, s *streams) int {
	stdout, stderr := s.Out, s.Err
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintf(stdout, "corral %s\n", buildVersion())
		return 0
	case "agent":
		return runAgent(args[1:], stderr)
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "run":
		return runVerb(runSpec, args[1:], s, parseRun, runRun)
	case "pool":
		return poolGroup.run(args[1:], s)
	case "job":
		return jobGroup.run(args[1:], s)
	case "task":
		return taskGroup.run(args[1:], s)
	case "node":
		return nodeGroup.run(args[1:], s)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "corral: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: corral <command>

commands:
  run       run a job file to the end (starting a server for it if none is running)
  pool      create, list, show, resize and autoscale pools
            (create, list, show, resize, stop-resize, autoscale, evaluate,
            remove-nodes, history, counts)
  job       submit, follow, list and terminate jobs (submit, watch, list, terminate)
  task      list a job's tasks, show one, print its output, explain why it waits
            (list, show, output, explain)
  node      evict a low-priority node, as a spot eviction would (evict)
  server    run Corral: the REST API, the service, nodes as local processes
  agent     run a node agent (the local VM provider starts these)
  version   print Corral's version
  help      print this help

Try: corral run examples/jobs/wordcount.yaml
"corral <command> --help" describes a command.
`)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
