package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"corral/batch"
)

// Errors returned by Runner methods; they are wrapped, test with errors.Is.
var (
	// ErrClosed: the Runner has been closed.
	ErrClosed = errors.New("runner closed")
	// ErrTaskBusy: another attempt of the same task is running on this node.
	ErrTaskBusy = errors.New("another attempt of the task is running")
)

// TaskSpec is what the Runner needs to run one attempt of a task.
type TaskSpec struct {
	JobID  string // checked with ValidateJobID
	TaskID string // checked with ValidateID
	// PoolID, if not empty, is given to the task as AZ_BATCH_POOL_ID instead of Config.PoolID.
	PoolID string
	// AttemptID names this attempt; it is opaque to the Runner (1 to 256 bytes of printable
	// ASCII without spaces). Start is idempotent per AttemptID.
	AttemptID string
	// CommandLine is split with SplitCommandLine and executed directly, not under a shell.
	CommandLine string
	// Env holds the task's environment settings, in order; a later setting of a name wins.
	Env []EnvSetting
	// MaxWallClock is Azure's constraints.maxWallClockTime, measured from the start of the
	// process; 0 means no limit. When it elapses, the task's whole process group is killed
	// and the result has TimedOut set.
	MaxWallClock time.Duration
	// ElevationAdmin is Azure's elevationLevel "admin": the task runs as root rather than as a
	// user of its own. A Runner that does not run as root cannot elevate: such an attempt
	// fails without starting (see "Task users" in the package documentation).
	ElevationAdmin bool
	// ResourceFiles are downloaded into the working directory before the process starts (see
	// "Resource files and output files" in the package documentation); OutputFiles are uploaded
	// after it ends, before the attempt's outcome is written. Their URLs hold SAS tokens, which
	// the Runner never logs nor puts in a Failure's message.
	ResourceFiles []batch.ResourceFile
	OutputFiles   []batch.OutputFile
	// StartTask marks an attempt of the pool's start task: JobID and TaskID are empty, and it
	// runs in the startup directory (AZ_BATCH_NODE_STARTUP_DIR, working directory wd under it),
	// one attempt at a time, like a task.
	StartTask bool
	// JobPrepTaskID, if set, names the job's preparation task, whose directories the task gets
	// as AZ_BATCH_JOB_PREP_DIR and AZ_BATCH_JOB_PREP_WORKING_DIR.
	JobPrepTaskID string
}

// key names the task an attempt belongs to, for ErrTaskBusy.
func (s TaskSpec) key() string {
	if s.StartTask {
		return "@startup"
	}
	return s.JobID + "/" + s.TaskID
}

// specDir returns the directory an attempt runs in: its task directory, or the startup
// directory for the start task.
func (l Layout) specDir(spec TaskSpec) (string, error) {
	if spec.StartTask {
		return l.StartupDir(), nil
	}
	return l.TaskDir(spec.JobID, spec.TaskID)
}

// Config configures a Runner.
type Config struct {
	// Root is the node's root directory (AZ_BATCH_NODE_ROOT_DIR); it is created if missing.
	Root string
	// NodeID, PoolID, AccountName and AccountURL are given to tasks as AZ_BATCH_NODE_ID,
	// AZ_BATCH_POOL_ID, AZ_BATCH_ACCOUNT_NAME and AZ_BATCH_ACCOUNT_URL (the last two only when
	// not empty).
	NodeID      string
	PoolID      string
	AccountName string
	AccountURL  string
	// LowPriority marks a spot/low-priority node: AZ_BATCH_NODE_IS_DEDICATED is "false".
	LowPriority bool
	// TaskUIDs is the range of user ids that a Runner running as root gives to tasks, a fresh
	// one for every attempt (see "Task users" in the package documentation); zero means
	// DefaultTaskUIDs.
	TaskUIDs UIDRange
	// OnDone is called once for every attempt that Start accepted and that ended (exited,
	// was killed, timed out, or could not be started), after its result is written. It
	// is called from a goroutine of the Runner, never from inside Start, possibly for several
	// attempts at once; it may call Start, Kill and Running, but not Close. Required.
	OnDone func(Result)
	// OnStarted, if not nil, is called when the process of an attempt that had resource files
	// to download starts: such a Start returns before the process does. It is called from a
	// goroutine of the Runner, like OnDone.
	OnStarted func(attemptID string, start time.Time)
	// Logger receives problems the Runner cannot return to a caller (a result that could not
	// be written, for instance). Nil means slog.Default().
	Logger *slog.Logger
}

// Runner runs task processes on a node, the way Azure Batch's node agent does on Linux.
//
// Each attempt runs directly (no shell) in the task's working directory, with its output in
// stdout.txt and stderr.txt in the task directory, in a process group of its own. Kill, the
// MaxWallClock timeout and Close kill the whole group with SIGKILL, grandchildren included;
// when the task's main process exits, whatever it left behind in its group is killed too, so
// that nothing of a task outlives it (a process that leaves the group, with setsid for
// example, escapes this). If the agent process dies, the kernel kills each task's main process
// (parent-death signal); other members of its group are not reached.
//
// A Runner that runs as root runs every attempt as a user of its own, which cannot read the
// node's files, the agent's environment or other tasks' files (see "Task users" in the package
// documentation); otherwise tasks run as the agent's user.
//
// The Runner embeds the node's Layout, so ListFiles, OpenFile and ReadResult are available on
// it. It runs on Linux only: elsewhere NewRunner returns an error.
type Runner struct {
	Layout

	cfg  Config
	log  *slog.Logger
	path string       // PATH given to tasks
	null *os.File     // /dev/null, every task's standard input (os/exec would open it per task)
	http *http.Client // downloads httpUrl resource files
	home string       // HOME given to tasks, if the agent has one and tasks run as the agent

	// superuser: the agent runs as root. isolate: tasks run as users of their own, from uids
	// (the agent is root, and other users can reach the node's root).
	superuser bool
	isolate   bool
	uids      *uidAllocator

	// spawnc carries process starts to the goroutine locked to the OS thread that is the parent
	// of every task (see sysProcAttr: the parent-death signal follows the creating thread).
	spawnc    chan func()
	spawnDone chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	running map[string]*attempt // by attempt id, until its result is written
	byTask  map[string]string   // "job/task" → attempt id, for running attempts
	// unacked holds, by task ("job/task"), the attempt whose result this Runner wrote to the
	// task's journal and that AckResult has not acknowledged yet: what lets AckResult append
	// its line without reading the journal back. A task it does not name is looked up in the
	// journal (after a restart, for instance).
	unacked map[string]string
	wg      sync.WaitGroup // waiters and OnDone calls
}

// attempt is a running attempt. The fields from cmd on are guarded by Runner.mu; while
// preparing is set (its resource files are downloading) there is no process yet.
type attempt struct {
	spec    TaskSpec
	dir     string
	journal *os.File           // the task's journal, open from Start until the result is appended
	env     *envBuilder        // the task's environment, which output file patterns may name
	cancel  context.CancelFunc // stops the downloads of a preparing attempt

	cmd       *exec.Cmd
	pid       int
	start     time.Time
	timer     *time.Timer
	preparing bool

	exited   bool // the main process has exited (maybe not reaped yet): Kill and the timeout must not signal the group any more
	killed   bool
	timedOut bool
}

// NewRunner creates the node's directories (root, shared, startup, workitems) and returns a
// Runner. Tasks get the agent's PATH (or a standard one if it has none), read now, and HOME:
// the agent's, or their working directory if they run as users of their own.
//
// Running as root, NewRunner decides whether tasks run as users of their own: they do unless a
// directory above the node's root is closed to other users (no o+x), in which case it logs a
// warning that says which, and tasks run as root.
func NewRunner(cfg Config) (*Runner, error) {
	if platformErr != nil {
		return nil, platformErr
	}
	if cfg.OnDone == nil {
		return nil, errors.New("agent: Config.OnDone is required")
	}
	if cfg.TaskUIDs == (UIDRange{}) {
		cfg.TaskUIDs = DefaultTaskUIDs
	}
	if err := cfg.TaskUIDs.Validate(); err != nil {
		return nil, err
	}
	layout, err := NewLayout(cfg.Root)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		Layout:    layout,
		cfg:       cfg,
		log:       cfg.Logger,
		path:      os.Getenv("PATH"),
		home:      os.Getenv("HOME"),
		spawnc:    make(chan func()),
		spawnDone: make(chan struct{}),
		http:      &http.Client{},
		running:   make(map[string]*attempt),
		byTask:    make(map[string]string),
		unacked:   make(map[string]string),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.path == "" {
		r.path = defaultPath
	}
	if err := r.prepareNode(); err != nil {
		return nil, err
	}
	r.null, err = os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("agent: opening %s: %w", os.DevNull, err)
	}
	go r.spawnLoop()
	return r, nil
}

// spawnLoop runs process starts on one OS thread for the Runner's whole life. It never unlocks
// the thread: when the loop ends (after Close has killed and reaped every task) the thread
// exits with it.
func (r *Runner) spawnLoop() {
	runtime.LockOSThread()
	defer close(r.spawnDone)
	for f := range r.spawnc {
		f()
	}
}

func (r *Runner) spawn(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	r.spawnc <- func() { errc <- cmd.Start() }
	return <-errc
}

func now() time.Time { return time.Now().UTC().Round(0) }

// Start starts one attempt of a task and returns once its process is running (or has failed
// to start). The outcome is delivered later through Config.OnDone, and is also written to the
// task's journal (see ReadResult).
//
// Start is idempotent per AttemptID, because requests are retried over the network: if the
// attempt is running, or has ever been started in this task directory (even by an earlier
// agent process on the same root), Start does nothing and returns nil. Use Running and
// ReadResult to learn its state.
//
// A command line that cannot be split or is empty, a program that cannot be found, an exec
// that fails, and an elevated task on a Runner that is not root are not errors of Start: the
// attempt ends at once with Started false and a Failure (codes CommandProgramNotFound or
// CommandLaunchFailed, as in Azure Batch, or InvalidTaskRequest), reported through OnDone like
// any other end. Start returns an error, and records nothing, for an invalid request (a bad
// id or environment setting: ErrInvalidID), another attempt of the same task still running
// (ErrTaskBusy), a closed Runner (ErrClosed), or a node problem (the task directory or output
// files cannot be created or given to the task's user, no user id can be recorded).
//
// A new attempt of a task truncates stdout.txt and stderr.txt and hides the previous attempt's
// result (ReadResult and PendingResults no longer return it); the working directory and its
// contents are kept.
func (r *Runner) Start(spec TaskSpec) error {
	dir, err := r.specDir(spec)
	if err != nil {
		return fmt.Errorf("agent: start: %w", err)
	}
	if err := validateAttemptID(spec.AttemptID); err != nil {
		return fmt.Errorf("agent: start: %w", err)
	}
	if err := validateEnv(spec.Env); err != nil {
		return fmt.Errorf("agent: start %s: %w", spec.AttemptID, err)
	}
	if spec.MaxWallClock < 0 {
		return fmt.Errorf("agent: start %s: negative MaxWallClock %v", spec.AttemptID, spec.MaxWallClock)
	}
	key := spec.key()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("agent: start %s: %w", spec.AttemptID, ErrClosed)
	}
	if a, ok := r.running[spec.AttemptID]; ok {
		if a.spec.key() != spec.key() {
			return fmt.Errorf("agent: start %s: attempt id already used by task %s/%s", spec.AttemptID, a.spec.JobID, a.spec.TaskID)
		}
		return nil
	}
	if other, ok := r.byTask[key]; ok {
		return fmt.Errorf("agent: start %s: task %s is running attempt %s: %w", spec.AttemptID, key, other, ErrTaskBusy)
	}

	wd := filepath.Join(dir, WorkingDirName)
	fresh, err := r.makeTaskDirs(dir)
	if err != nil {
		return fmt.Errorf("agent: start %s: creating task directory: %w", spec.AttemptID, err)
	}
	torn := false // the journal ends in a partial line
	if !fresh {
		// A task directory made just now has no journal: only an older one can have seen
		// the attempt.
		j, err := readJournal(dir, spec.AttemptID)
		if err != nil {
			return fmt.Errorf("agent: start %s: %w", spec.AttemptID, err)
		}
		if j.seen {
			return nil
		}
		torn = j.torn
	}
	user, failure, err := r.userFor(spec)
	if err != nil {
		return fmt.Errorf("agent: start %s: %w", spec.AttemptID, err)
	}
	if r.isolate {
		// The working directory is kept from earlier attempts, which ran under other ids.
		if err := chownTree(wd, int(user.uid), int(user.uid)); err != nil {
			return fmt.Errorf("agent: start %s: giving the working directory to the task's user: %w", spec.AttemptID, err)
		}
	}
	stdout, err := r.openOutput(filepath.Join(dir, StdoutFile), user)
	if err != nil {
		return fmt.Errorf("agent: start %s: %w", spec.AttemptID, err)
	}
	handedOff := false // to the goroutine that downloads the resource files
	defer func() {
		if !handedOff {
			stdout.Close() // the child has its own descriptor
		}
	}()
	stderr, err := r.openOutput(filepath.Join(dir, StderrFile), user)
	if err != nil {
		return fmt.Errorf("agent: start %s: %w", spec.AttemptID, err)
	}
	defer func() {
		if !handedOff {
			stderr.Close()
		}
	}()
	// Record the attempt before starting it: from here on a retried Start is a no-op, and the
	// previous attempt's result is hidden. The journal stays open for the attempt's result.
	journal, err := openJournal(dir, true)
	if err != nil {
		return fmt.Errorf("agent: start %s: recording the attempt: %w", spec.AttemptID, err)
	}
	if _, err := journal.Write(journalLine(torn, recordStart, spec.AttemptID, nil)); err != nil {
		journal.Close()
		return fmt.Errorf("agent: start %s: recording the attempt: %w", spec.AttemptID, err)
	}
	delete(r.unacked, key)

	env := r.taskEnv(spec, dir, wd)
	if failure == nil && len(spec.ResourceFiles) > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		a := &attempt{spec: spec, dir: dir, journal: journal, env: env, cancel: cancel, preparing: true}
		r.running[spec.AttemptID] = a
		r.byTask[key] = spec.AttemptID
		handedOff = true
		r.wg.Add(1)
		go r.prepareAndRun(ctx, a, user, env, wd, stdout, stderr)
		return nil
	}
	start := now()
	var cmd *exec.Cmd
	if failure == nil {
		cmd, failure = r.launch(spec.CommandLine, user, env, wd, stdout, stderr)
	}
	if failure != nil {
		res := Result{
			JobID: spec.JobID, TaskID: spec.TaskID, AttemptID: spec.AttemptID, StartTask: spec.StartTask,
			StartTime: start, EndTime: start, Failure: failure,
		}
		r.recordResultLocked(key, journal, res)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.cfg.OnDone(res)
		}()
		return nil
	}

	a := &attempt{spec: spec, dir: dir, journal: journal, env: env, cmd: cmd, pid: cmd.Process.Pid, start: start}
	r.running[spec.AttemptID] = a
	r.byTask[key] = spec.AttemptID
	r.startTimer(a)
	r.wg.Add(1)
	go r.wait(a)
	return nil
}

// launch finds the program and starts the attempt's process, or says why it cannot.
func (r *Runner) launch(commandLine string, user taskUser, env *envBuilder, wd string, stdout, stderr *os.File) (*exec.Cmd, *Failure) {
	cmd, failure := prepare(commandLine, env, wd)
	if failure != nil {
		return nil, failure
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.null, stdout, stderr
	cmd.SysProcAttr = sysProcAttr(user)
	if err := r.spawn(cmd); err != nil {
		return nil, launchFailure(err)
	}
	return cmd, nil
}

// startTimer starts the attempt's maxWallClockTime timer, if it has one.
func (r *Runner) startTimer(a *attempt) {
	if a.spec.MaxWallClock > 0 {
		a.timer = time.AfterFunc(a.spec.MaxWallClock, func() { r.timeout(a) })
	}
}

// prepareAndRun downloads a preparing attempt's resource files, then starts its process and
// waits for it. A download that fails, or a Kill or Close meanwhile, ends the attempt without a
// process. It owns stdout and stderr, and one count of r.wg.
func (r *Runner) prepareAndRun(ctx context.Context, a *attempt, user taskUser, env *envBuilder, wd string, stdout, stderr *os.File) {
	closeOutputs := func() { // the process, if started, has descriptors of its own
		stdout.Close()
		stderr.Close()
	}
	failure := downloadResourceFiles(ctx, r.http, wd, a.spec.ResourceFiles)
	a.cancel()
	r.mu.Lock()
	if failure == nil && !a.killed && r.isolate {
		if err := chownTree(wd, int(user.uid), int(user.uid)); err != nil {
			failure = fileFailure(CodeResourceFileCreateFailed, "giving the resource files to the task's user: "+err.Error())
		}
	}
	start := now()
	var cmd *exec.Cmd
	if failure == nil && !a.killed {
		cmd, failure = r.launch(a.spec.CommandLine, user, env, wd, stdout, stderr)
	}
	if failure != nil || a.killed {
		killed := a.killed // a download that Kill cut short failed for that reason
		if killed {
			failure = nil
		}
		exitCode := 0
		if killed { // reported as a process that SIGKILL ended would be
			exitCode = 128 + int(syscall.SIGKILL)
		}
		res := Result{
			JobID: a.spec.JobID, TaskID: a.spec.TaskID, AttemptID: a.spec.AttemptID, StartTask: a.spec.StartTask,
			ExitCode: exitCode, StartTime: start, EndTime: start, Failure: failure, Killed: killed,
		}
		r.endLocked(a, res)
		r.mu.Unlock()
		closeOutputs()
		r.cfg.OnDone(res)
		r.wg.Done()
		return
	}
	a.cmd, a.pid, a.start, a.preparing = cmd, cmd.Process.Pid, start, false
	r.startTimer(a)
	r.mu.Unlock()
	closeOutputs()
	if r.cfg.OnStarted != nil {
		r.cfg.OnStarted(a.spec.AttemptID, start)
	}
	r.wait(a)
}

// prepare splits the command line and finds the program, or says why the attempt fails.
func prepare(commandLine string, env *envBuilder, wd string) (*exec.Cmd, *Failure) {
	args, err := SplitCommandLine(commandLine)
	if err != nil {
		return nil, &Failure{Category: CategoryUserError, Code: CodeCommandLaunchFailed,
			Message: "Failed to launch the specified command line: " + err.Error()}
	}
	if len(args) == 0 {
		return nil, &Failure{Category: CategoryUserError, Code: CodeCommandLaunchFailed,
			Message: "Failed to launch the specified command line: the command line is empty"}
	}
	prog, ok := lookPath(args[0], env.get("PATH"), wd)
	if !ok {
		return nil, &Failure{Category: CategoryUserError, Code: CodeCommandProgramNotFound,
			Message: fmt.Sprintf("The specified command program is not found: %q", args[0])}
	}
	return &exec.Cmd{Path: prog, Args: args, Dir: wd, Env: env.list}, nil
}

// lookPath finds the program to execute. A name with a slash is a path, relative to the
// working directory; it is not checked here (exec reports what is wrong with it). A name
// without one is searched in the task's PATH, whose relative entries (and empty ones, meaning
// ".") are relative to the working directory.
func lookPath(name, pathEnv, wd string) (string, bool) {
	if strings.Contains(name, "/") {
		if filepath.IsAbs(name) {
			return name, true
		}
		return filepath.Join(wd, name), true
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(wd, d)
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// launchFailure classifies an error from starting the process.
func launchFailure(err error) *Failure {
	if errors.Is(err, fs.ErrNotExist) {
		return &Failure{Category: CategoryUserError, Code: CodeCommandProgramNotFound,
			Message: "The specified command program is not found: " + err.Error()}
	}
	return &Failure{Category: CategoryUserError, Code: CodeCommandLaunchFailed,
		Message: "Failed to launch the specified command line: " + err.Error()}
}

// wait waits for an attempt's main process to exit, kills what is left of its group, reaps it,
// writes its result and reports.
func (r *Runner) wait(a *attempt) {
	defer r.wg.Done()
	var killed, timedOut bool
	// ended marks the main process as exited, so that Kill and the timeout no longer signal
	// the group; killRest first kills what is left of the group.
	ended := func(killRest bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if killRest {
			if err := killGroup(a.pid); err != nil {
				r.log.Error("agent: killing what is left of a task's process group", "attempt", a.spec.AttemptID, "pid", a.pid, "err", err)
			}
		}
		a.exited = true
		if a.timer != nil {
			a.timer.Stop()
		}
		killed, timedOut = a.killed, a.timedOut
	}
	if err := waitExited(a.pid); err == nil {
		// The main process has exited but is not reaped yet: its pid, which is the group id,
		// cannot have been reused, so the group can still be signalled safely.
		ended(true)
		_ = a.cmd.Wait() // a non-zero exit is an *exec.ExitError; the status is in ProcessState
	} else {
		// Without waitid: reap first, and leave what is left of the group alone.
		r.log.Error("agent: waiting for task process", "attempt", a.spec.AttemptID, "pid", a.pid, "err", err)
		_ = a.cmd.Wait()
		ended(false)
	}
	res := Result{
		JobID: a.spec.JobID, TaskID: a.spec.TaskID, AttemptID: a.spec.AttemptID, StartTask: a.spec.StartTask,
		Started: true, StartTime: a.start, EndTime: now(), Killed: killed, TimedOut: timedOut,
	}
	if ps := a.cmd.ProcessState; ps != nil {
		res.Usage = usageOf(ps)
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = int(ws.Signal())
			res.ExitCode = 128 + res.Signal
		} else {
			res.ExitCode = ps.ExitCode()
		}
	}
	if len(a.spec.OutputFiles) > 0 && !killed {
		// A task ended by Kill (Task - Terminate) or Close (the agent stopping) uploads nothing.
		res.UploadFailure = uploadOutputFiles(context.Background(), a.dir, a.env.get, a.spec.OutputFiles, res)
	}
	r.mu.Lock()
	r.endLocked(a, res)
	r.mu.Unlock()
	r.cfg.OnDone(res)
}

// endLocked ends an attempt that Start accepted: its result is appended to the task's journal,
// and only then does it leave Running, so that it is always in one or the other. r.mu is held:
// the Runner's own readers of journals never see a line half-written.
func (r *Runner) endLocked(a *attempt, res Result) {
	r.recordResultLocked(a.spec.key(), a.journal, res)
	delete(r.running, a.spec.AttemptID)
	delete(r.byTask, a.spec.key())
}

// recordResultLocked appends res to the task's journal, open since Start, and closes it; the
// task (key) then has res as its unacknowledged result. r.mu is held.
func (r *Runner) recordResultLocked(key string, journal *os.File, res Result) {
	line, err := resultLine(res)
	if err == nil {
		_, err = journal.Write(line)
	}
	if cerr := journal.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.log.Error("agent: result not written", "attempt", res.AttemptID, "err", err)
		return
	}
	r.unacked[key] = res.AttemptID
}

func (r *Runner) timeout(a *attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a.exited {
		return
	}
	a.timedOut = true
	if err := killGroup(a.pid); err != nil {
		r.log.Error("agent: killing a task that timed out", "attempt", a.spec.AttemptID, "pid", a.pid, "err", err)
	}
}

// StartTime returns the time a running attempt's process was started; ok is false if the
// attempt is not running.
func (r *Runner) StartTime(attemptID string) (start time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.running[attemptID]; ok && !a.preparing {
		return a.start, true
	}
	return time.Time{}, false
}

// Has reports whether an attempt is running (or preparing to: its files are being fetched).
func (r *Runner) Has(attemptID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.running[attemptID]
	return ok
}

// Kill kills the whole process group of a running attempt with SIGKILL and returns without
// waiting; the end is reported through OnDone with Killed set. Killing an attempt that is not
// running (unknown, finished, or never started) does nothing and returns nil, so that a retried
// request is harmless.
func (r *Runner) Kill(attemptID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.running[attemptID]
	if !ok || a.exited {
		return nil
	}
	a.killed = true
	if a.preparing {
		a.cancel()
		return nil
	}
	if err := killGroup(a.pid); err != nil {
		return fmt.Errorf("agent: kill %s: %w", attemptID, err)
	}
	return nil
}

// Running returns the ids of the attempts that are running, sorted: every attempt that Start
// accepted is either in this list or has its result written (ReadResult), never neither.
// The service uses it to reconcile after a restart.
func (r *Runner) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.running))
	for id := range r.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Close kills every running attempt's process group, waits until each has been reaped, its
// result written and OnDone called for it, and stops the Runner. Start fails afterwards.
// Close may be called more than once.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	for _, a := range r.running {
		if a.preparing {
			a.killed = true
			a.cancel()
		} else if !a.exited {
			a.killed = true
			if err := killGroup(a.pid); err != nil {
				r.log.Error("agent: killing a task on close", "attempt", a.spec.AttemptID, "pid", a.pid, "err", err)
			}
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.closeOnce.Do(func() {
		close(r.spawnc)
		r.null.Close()
	})
	<-r.spawnDone
}

// KillAll kills every running attempt's process group and waits until each has been reaped and
// its end reported through OnDone (with Killed set). Unlike Close, the Runner goes on: Start may
// be called again afterwards, but not while KillAll runs.
func (r *Runner) KillAll() {
	r.mu.Lock()
	for _, a := range r.running {
		if !a.exited {
			a.killed = true
			if err := killGroup(a.pid); err != nil {
				r.log.Error("agent: killing a task", "attempt", a.spec.AttemptID, "pid", a.pid, "err", err)
			}
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Reimage deletes every file of the node's tasks, as ClearNodeFiles does (task directories, with
// their journals: the attempts started in them and their results; shared; startup), and creates
// the node's directories again. No attempt may be running (KillAll first), and Start must not be
// called meanwhile.
func (r *Runner) Reimage() error {
	r.mu.Lock()
	running := len(r.running)
	r.mu.Unlock()
	if running > 0 {
		return fmt.Errorf("agent: reimage with %d attempts running", running)
	}
	r.mu.Lock()
	clear(r.unacked) // their journals go
	r.mu.Unlock()
	if err := ClearNodeFiles(r.Root()); err != nil {
		return err
	}
	return r.prepareNode()
}

// The Runner's own ReadResult, ReadStartTaskResult, LatestStartTaskAttempt, PendingResults,
// AckResult and AckStartTaskResult are the Layout's, under the Runner's lock: the Runner
// appends to journals under it, so these never read a line it is writing. AckResult also
// knows, without reading the journal, the results that this Runner wrote.

// ReadResult is Layout.ReadResult.
func (r *Runner) ReadResult(jobID, taskID string) (res Result, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Layout.ReadResult(jobID, taskID)
}

// ReadStartTaskResult is Layout.ReadStartTaskResult.
func (r *Runner) ReadStartTaskResult() (res Result, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Layout.ReadStartTaskResult()
}

// LatestStartTaskAttempt is Layout.LatestStartTaskAttempt.
func (r *Runner) LatestStartTaskAttempt() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Layout.LatestStartTaskAttempt()
}

// PendingResults is Layout.PendingResults. It holds the Runner's lock while it reads every
// journal: Start waits meanwhile.
func (r *Runner) PendingResults() ([]Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Layout.PendingResults()
}

// AckResult is Layout.AckResult.
func (r *Runner) AckResult(jobID, taskID, attemptID string) error {
	dir, err := r.TaskDir(jobID, taskID)
	if err != nil {
		return err
	}
	spec := TaskSpec{JobID: jobID, TaskID: taskID}
	return r.ack(dir, spec.key(), "task "+spec.key(), attemptID)
}

// AckStartTaskResult is Layout.AckStartTaskResult.
func (r *Runner) AckStartTaskResult(attemptID string) error {
	return r.ack(r.StartupDir(), TaskSpec{StartTask: true}.key(), "the start task", attemptID)
}

// ack acknowledges attemptID's result in the task directory dir of the task key (what names
// it in errors).
func (r *Runner) ack(dir, key, what, attemptID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.unacked[key]; ok {
		if id != attemptID {
			return nil // a stale attempt: the task's result is another's
		}
		delete(r.unacked, key)
		return appendAck(dir, what, attemptID, false)
	}
	if _, ok := r.byTask[key]; ok {
		return nil // the running attempt hides every earlier result, and has none yet
	}
	return ackResultIn(dir, what, attemptID)
}
