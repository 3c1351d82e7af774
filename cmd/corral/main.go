// Command corral is Corral's single binary: the server, the node agent and the CLI verbs.
//
// Usage:
//
//	corral server [--listen ADDR] [--data DIR]
//	corral agent --server URL --pool ID --node ID [--root DIR]
//	corral version
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
  server    run Corral: the REST API, the service, nodes as local processes
  agent     run a node agent (the local VM provider starts these)
  version   print Corral's version
  help      print this help
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
