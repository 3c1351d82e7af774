package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// The CLI verbs (pool, job, task, run) follow one pattern, after cli/cli: each verb has an options
// struct, a parse function that fills it from the command line and the environment (and does
// nothing else, so that tests check parsing alone), and a run function that does the work with
// those options and writes to the given streams (so that tests check behaviour alone).

// streams are where a verb writes, and the environment it reads; tests replace them.
type streams struct {
	// Out receives the verb's results (ids, tables, summaries); Err its progress and errors.
	Out, Err io.Writer
	// Getenv reads the environment.
	Getenv func(string) string
	// ErrTTY says Err is a terminal: progress is drawn as a bar that redraws itself in place
	// instead of being printed as lines.
	ErrTTY bool
}

func newStreams(stdout, stderr io.Writer) *streams {
	return &streams{Out: stdout, Err: stderr, Getenv: os.Getenv, ErrTTY: isTerminal(stderr)}
}

// isTerminal reports whether w is a character device (a terminal), without a dependency for it.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// exitError ends a verb with a given exit code. Its message, if any, is printed as the verb's
// error; an empty message means the verb has said everything already.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Exit codes beyond 0 (success), 1 (failure) and 2 (usage).
const (
	// exitInterrupted is the code of a verb stopped by Ctrl-C (SIGINT) or SIGTERM: 128+SIGINT,
	// as a shell reports a process killed by SIGINT.
	exitInterrupted = 130
)

// usageError is a mistake on the command line: the verb prints it with its usage, exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// verbSpec describes a verb for its help text.
type verbSpec struct {
	name     string // "pool create"
	synopsis string // "ID [--nodes N] ..."
	summary  string // one line
	help     string // more, after the synopsis; may be empty
}

// newFlagSet returns a silent flag set: parse functions return errors, runVerb prints them.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseArgs parses flags and positional arguments in any order ("pool create p1 --nodes 2" as
// well as "pool create --nodes 2 p1"); "--" ends the flags. It returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag.Parse stops at the first positional argument, or after "--".
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// printUsage writes a verb's help: synopsis, help text and flags.
func printUsage(w io.Writer, spec verbSpec, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: corral %s %s\n\n%s\n", spec.name, spec.synopsis, spec.summary)
	if spec.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(spec.help, "\n"))
	}
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// runVerb parses a verb's arguments with parse and runs it with do, under a context that Ctrl-C
// (SIGINT) and SIGTERM cancel. It returns the exit code: 0, 1 for an error, 2 for a usage error,
// or an exitError's code.
func runVerb[O any](spec verbSpec, args []string, s *streams,
	parse func(fs *flag.FlagSet, args []string, getenv func(string) string) (O, error),
	do func(ctx context.Context, opts O, s *streams) error) int {
	fs := newFlagSet(spec.name)
	opts, err := parse(fs, args, s.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(s.Out, spec, fs)
			return 0
		}
		fmt.Fprintf(s.Err, "corral %s: %v\n", spec.name, err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(s.Err, "usage: corral %s %s\n(corral %s --help for more)\n", spec.name, spec.synopsis, spec.name)
			return 2
		}
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = do(ctx, opts, s)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(s.Err, "corral %s: %s\n", spec.name, ee.msg)
		}
		return ee.code
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintf(s.Err, "corral %s: interrupted\n", spec.name)
		return exitInterrupted
	default:
		fmt.Fprintf(s.Err, "corral %s: %v\n", spec.name, err)
		return 1
	}
}

// group is a verb with sub-verbs: pool, job, task.
type group struct {
	name    string
	summary string
	verbs   []groupVerb
}

type groupVerb struct {
	spec verbSpec
	run  func(args []string, s *streams) int
}

// verb makes a group's verb that runVerb runs with parse and do.
func verb[O any](spec verbSpec,
	parse func(fs *flag.FlagSet, args []string, getenv func(string) string) (O, error),
	do func(ctx context.Context, opts O, s *streams) error) groupVerb {
	return groupVerb{spec, func(args []string, s *streams) int { return runVerb(spec, args, s, parse, do) }}
}

func (g group) run(args []string, s *streams) int {
	if len(args) == 0 {
		g.usage(s.Err)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		g.usage(s.Out)
		return 0
	}
	for _, v := range g.verbs {
		if strings.TrimPrefix(v.spec.name, g.name+" ") == args[0] {
			return v.run(args[1:], s)
		}
	}
	fmt.Fprintf(s.Err, "corral %s: unknown command %q\n", g.name, args[0])
	g.usage(s.Err)
	return 2
}

func (g group) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: corral %s <command>\n\n%s\n\ncommands:\n", g.name, g.summary)
	for _, v := range g.verbs {
		fmt.Fprintf(w, "  corral %s %s\n      %s\n", v.spec.name, v.spec.synopsis, v.spec.summary)
	}
	fmt.Fprintf(w, "\ncorral %s <command> --help describes one.\n", g.name)
}

// oneArg returns the single positional argument a verb takes, or a usage error naming it.
func oneArg(pos []string, what string) (string, error) {
	switch len(pos) {
	case 0:
		return "", usagef("missing %s", what)
	case 1:
		return pos[0], nil
	default:
		return "", usagef("unexpected arguments after %s: %s", what, strings.Join(pos[1:], " "))
	}
}

// twoArgs returns the two positional arguments a verb takes.
// parseTaskRef parses the arguments of a verb about one task (JOB TASK) after its flags are
// registered, and resolves the connection.
func parseTaskRef(fs *flag.FlagSet, args []string, getenv func(string) string, conn *connOptions) (jobID, taskID string, err error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", "", err
	}
	if jobID, taskID, err = twoArgs(pos, "the job id", "the task id"); err != nil {
		return "", "", err
	}
	return jobID, taskID, conn.resolve(getenv)
}

func twoArgs(pos []string, first, second string) (string, string, error) {
	switch len(pos) {
	case 0:
		return "", "", usagef("missing %s and %s", first, second)
	case 1:
		return "", "", usagef("missing %s", second)
	case 2:
		return pos[0], pos[1], nil
	default:
		return "", "", usagef("unexpected arguments after %s: %s", second, strings.Join(pos[2:], " "))
	}
}

// envFlag collects repeated --env NAME=VALUE flags.
type envFlag []envPair

type envPair struct{ Name, Value string }

func (e *envFlag) String() string {
	parts := make([]string, len(*e))
	for i, p := range *e {
		parts[i] = p.Name + "=" + p.Value
	}
	return strings.Join(parts, ",")
}

func (e *envFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	*e = append(*e, envPair{name, value})
	return nil
}

// listOptions are the options of a verb that lists entities: the connection, and --json.
type listOptions struct {
	Conn connOptions
	JSON bool
}

// parseList returns the parser of a listing verb, which takes no argument; jsonHelp describes
// its --json.
func parseList(jsonHelp string) func(*flag.FlagSet, []string, func(string) string) (*listOptions, error) {
	return func(fs *flag.FlagSet, args []string, getenv func(string) string) (*listOptions, error) {
		o := &listOptions{}
		o.Conn.register(fs)
		fs.BoolVar(&o.JSON, "json", false, jsonHelp)
		pos, err := parseArgs(fs, args)
		if err != nil {
			return nil, err
		}
		if len(pos) > 0 {
			return nil, usagef("unexpected arguments: %v", pos)
		}
		return o, o.Conn.resolve(getenv)
	}
}

// poolIDOptions are the options of a verb about one pool, named by its only argument: the
// connection, and --json if the verb has it.
type poolIDOptions struct {
	Conn connOptions
	ID   string
	JSON bool
}

// parsePoolID returns the parser of a verb about one pool; jsonHelp describes its --json, and
// "" means it has none.
func parsePoolID(jsonHelp string) func(*flag.FlagSet, []string, func(string) string) (*poolIDOptions, error) {
	return func(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolIDOptions, error) {
		o := &poolIDOptions{}
		o.Conn.register(fs)
		if jsonHelp != "" {
			fs.BoolVar(&o.JSON, "json", false, jsonHelp)
		}
		pos, err := parseArgs(fs, args)
		if err != nil {
			return nil, err
		}
		if o.ID, err = poolIDArg(pos); err != nil {
			return nil, err
		}
		return o, o.Conn.resolve(getenv)
	}
}
