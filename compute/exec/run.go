package exec

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"corral/compute/internal/proc"
)

// outputGrace is how long a run waits, once its program has exited, for the program's output to
// end: a process it left behind (a machine's agent started without its output redirected) may
// hold the output open, and is cut off after this.
const outputGrace = 2 * time.Second

// runSpec says what to run.
type runSpec struct {
	op      string // create, delete or list
	program string
	env     []string
	timeout time.Duration
	cancel  <-chan struct{} // closed to stop the program (a cancelled creation); nil: never
	log     *runLog
	secret  string // replaced wherever it appears in the output
	// keepStdout > 0 keeps every line of standard output, up to this many bytes.
	keepStdout int
	// started, if not nil, is told the program's process once it runs.
	started func(pid int, start uint64)
}

// runResult is what became of a run.
type runResult struct {
	startErr  error // the program could not be started: nothing ran
	exitErr   error // how it ended; nil for exit status 0
	timedOut  bool  // it ran past its timeout and was stopped
	cancelled bool  // spec.cancel was closed and it was stopped
	closed    bool  // the provider was closed and it was stopped
	took      time.Duration
	stdout    *lineWriter
	stderr    *lineWriter
}

// ok reports whether the program ran to its end and exited 0.
func (r runResult) ok() bool {
	return r.startErr == nil && r.exitErr == nil && !r.timedOut && !r.cancelled && !r.closed
}

// reason describes a run that was not ok, with the last lines the program wrote on standard
// error (or, if none, on standard output), bounded.
func (r runResult) reason(op string, timeout time.Duration) string {
	var s string
	switch {
	case r.startErr != nil:
		return fmt.Sprintf("%s program could not be started: %v", op, r.startErr)
	case r.cancelled:
		s = fmt.Sprintf("%s program stopped: the node was deleted while it was being created", op)
	case r.closed:
		s = fmt.Sprintf("%s program stopped: the provider is shutting down", op)
	case r.timedOut:
		s = fmt.Sprintf("%s program timed out after %v and was stopped", op, timeout)
	default:
		s = fmt.Sprintf("%s program failed (%v)", op, r.exitErr)
	}
	tail := lastLines(r.stderr.tail, 5, 500)
	if tail == "" {
		tail = lastLines(r.stdout.tail, 5, 500)
	}
	if tail != "" {
		s += ": " + tail
	}
	return s
}

// run runs one program to its end, or until it times out, is cancelled, or the provider is
// closed; in those cases it ends the program's whole session (SIGTERM, then SIGKILL after the
// grace period) and waits for it. The program runs in the provider's directory, as the leader
// of a new session, with standard input from /dev/null and its output in spec.log.
func (p *Provider) run(spec runSpec) runResult {
	res := runResult{
		stdout: &lineWriter{op: spec.op, stream: "stdout", log: spec.log, secret: spec.secret, keep: spec.keepStdout},
		stderr: &lineWriter{op: spec.op, stream: "stderr", log: spec.log, secret: spec.secret},
	}
	cmd := osexec.Command(spec.program)
	cmd.Env = spec.env
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = res.stdout, res.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = outputGrace
	spec.log.line(spec.op, "run", spec.program)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		res.startErr = err
		spec.log.line(spec.op, "end", "could not start: "+err.Error())
		return res
	}
	pid := cmd.Process.Pid
	// The child cannot be reaped before Wait, so its stat is there even if it already exited.
	st, statErr := proc.ReadStat(pid)
	if spec.started != nil && statErr == nil {
		spec.started(pid, st.Start)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(spec.timeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		res.timedOut = true
	case <-spec.cancel:
		res.cancelled = true
	case <-p.closed:
		res.closed = true
	}
	if res.timedOut || res.cancelled || res.closed {
		spec.log.line(spec.op, "stop", "ending the program's processes")
		if statErr != nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		} else {
			proc.TerminateSession(pid, st.Start, p.grace, nil, func() {
				p.log.Warn("exec provider: program processes still alive 30s after SIGKILL", "op", spec.op, "pid", pid)
			})
		}
		err = <-done
	}
	res.took = time.Since(began)
	if errors.Is(err, osexec.ErrWaitDelay) {
		// It exited 0, but a process it left behind kept its output open: cut off.
		spec.log.line(spec.op, "note", "a process left behind held the output open; it was closed")
		err = nil
	}
	res.stdout.flush()
	res.stderr.flush()
	res.exitErr = err
	end := "exit status 0"
	if err != nil {
		end = err.Error()
	}
	spec.log.line(spec.op, "end", fmt.Sprintf("%s after %v", end, res.took.Round(time.Millisecond)))
	return res
}

// reservedEnv are the variables the provider sets itself; Config.PassEnv may not name them.
var reservedEnv = []string{
	"CORRAL_OPERATION", "CORRAL_POOL_ID", "CORRAL_NODE_ID", "CORRAL_VM_SIZE", "CORRAL_PRIORITY",
	"CORRAL_JOIN_TOKEN", "CORRAL_NODE_HANDLE", "CORRAL_REQUEST_ID", "CORRAL_SERVER_URL",
	"CORRAL_CA_FILE", "CORRAL_CA_FINGERPRINT",
}

// forbiddenEnv are variables that must never reach a program, whatever Config.PassEnv says.
var forbiddenEnv = []string{"CORRAL_ACCOUNT_KEY"}

// vmVars are the variables that describe one node to a program.
type vmVars struct {
	op        string
	pool, id  string
	vmSize    string
	dedicated bool
	requestID string
	handle    string // delete only
	token     string // create only
}

// env builds a program's whole environment: PATH and HOME, the variables Config.PassEnv names
// (those that are set), and the provider's own CORRAL_ variables. Nothing else of the server's
// environment reaches the program.
func (p *Provider) env(v vmVars) []string {
	var env []string
	for _, k := range append([]string{"PATH", "HOME"}, p.passEnv...) {
		if val, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+val)
		}
	}
	set := func(k, val string) { env = append(env, k+"="+val) }
	set("CORRAL_OPERATION", v.op)
	set("CORRAL_SERVER_URL", p.serverURL)
	set("CORRAL_CA_FILE", p.caFile)
	set("CORRAL_CA_FINGERPRINT", p.caFingerprint)
	if v.op == opList {
		return env
	}
	set("CORRAL_POOL_ID", v.pool)
	set("CORRAL_NODE_ID", v.id)
	set("CORRAL_VM_SIZE", v.vmSize)
	set("CORRAL_PRIORITY", priority(v.dedicated))
	set("CORRAL_REQUEST_ID", v.requestID)
	switch v.op {
	case opCreate:
		set("CORRAL_JOIN_TOKEN", v.token)
	case opDelete:
		set("CORRAL_NODE_HANDLE", v.handle)
	}
	return env
}

// priority is how programs name a node's kind.
func priority(dedicated bool) string {
	if dedicated {
		return "dedicated"
	}
	return "lowpriority"
}

// checkPassEnv checks the names of Config.PassEnv.
func checkPassEnv(names []string) error {
	for _, k := range names {
		valid := k != "" && !strings.ContainsAny(k[:1], "0123456789")
		for _, c := range k {
			if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
				valid = false
			}
		}
		switch {
		case !valid:
			return fmt.Errorf("PassEnv: %q is not a variable name", k)
		case slices.Contains(forbiddenEnv, k):
			return fmt.Errorf("PassEnv: %s must never reach a program", k)
		case slices.Contains(reservedEnv, k):
			return fmt.Errorf("PassEnv: %s is set by the provider itself", k)
		}
	}
	return nil
}
