// Package agent is the part of Corral's node agent that runs task processes and keeps their
// files, the way Azure Batch's node agent does on a Linux node.
//
// It runs inside the `corral agent` process, not in actor code: it uses goroutines, the clock
// and os/exec freely, and imports nothing else of Corral but the wire protocol it speaks with
// the service (agent/protocol). Running tasks needs Linux; the
// directory layout, the command-line splitter and file access work everywhere.
//
// # Command lines
//
// As in Azure Batch, a task's command line does not run under a shell: SplitCommandLine splits
// it into arguments (quotes and backslashes as documented there) and the program is executed
// directly. Users who want a shell write `/bin/sh -c "…"`. A program name without a slash is
// searched in the task's PATH; a relative path is relative to the working directory.
//
// # Directory layout
//
// Following Azure Batch's "Files and directories" documentation, a node's root directory
// (Config.Root) holds:
//
//	<root>/                               AZ_BATCH_NODE_ROOT_DIR
//	  shared/                             AZ_BATCH_NODE_SHARED_DIR: read/write for every task
//	  startup/                            AZ_BATCH_NODE_STARTUP_DIR: the start task's task directory
//	    stdout.txt, stderr.txt, wd/, ...  as a task's (TaskSpec.StartTask)
//	  workitems/<jobId>/job-1/<taskId>/   AZ_BATCH_TASK_DIR: the task directory
//	    stdout.txt, stderr.txt            the task's output (truncated by each new attempt)
//	    wd/                               AZ_BATCH_TASK_WORKING_DIR: the working directory
//	    .corral-journal                   every attempt started here, its result and its acknowledgement
//
// As Azure does, the job directory is workitems/<jobId>/job-1 for a job and
// workitems/<scheduleId>/job-<n> for the n-th job of a job schedule (whose id is
// "<scheduleId>:job-<n>"; a job and a job schedule cannot have the same id). Job and task ids are
// checked by ValidateJobID and ValidateID (Azure's rule: 1 to 64 letters, digits, '-' and '_')
// before they become path components. The ".corral-" files are Corral's
// bookkeeping: ListFiles hides them and OpenFile refuses them. Who may read and write what is
// described under "Task users".
//
// The node's own files (the credential, the agent's log and records, ".corral-" files) sit in
// the root beside those directories. The node file operations (ListNodeFiles, OpenNodeFile,
// StatNodeFile, DeleteNodeFile) serve only shared, startup and workitems, never those files,
// and follow a symbolic link only inside the one of the three it is in.
//
// # Node users and service logs
//
// Compute Node - Add, Update and Delete User reach the agent as protocol.UserRequests (see
// package agentlink), which the Client carries out with NodeUsers: accounts of the agent's
// machine, which need the agent to run as root on Linux. Upload Batch Service Logs reaches it as
// a protocol.UploadLogsRequest: the agent uploads its own log, which `corral agent` keeps in
// <root>/logs (LogDir) besides writing it to standard error, a LogFile of at most three files of
// 1 MiB (agent.log, agent.log.1, agent.log.2). Every file that may hold a message of the time
// range asked for is uploaded whole, as Azure documents: one last written at or after the start,
// whose predecessor was last written at or before the end. Passwords, SSH keys and the
// container's shared access signature are never logged.
//
// # Task users
//
// Azure Batch runs a task as an auto-user, non-admin unless the task's userIdentity asks for
// elevationLevel admin. A Runner that runs as root does the same: each attempt runs under a
// user and group id of its own (no supplementary groups), with HOME set to its working
// directory. The ids come from Config.TaskUIDs (DefaultTaskUIDs: 2000000000 to 2099999999, a
// part of the id space that neither distributions nor systemd's conventions use) and need not
// exist in /etc/passwd. Azure's auto-user has pool scope (shared by the pool's tasks) or task
// scope; Corral has no pool-scope sharing to offer, so it always uses task scope, and narrows it
// to one attempt. An elevated task (TaskSpec.ElevationAdmin) runs as root.
//
// Every attempt gets a fresh id, and an id is handed out again only once the whole range has
// been (it then wraps around): so the files an earlier attempt left behind, in the shared
// directory or /tmp, never belong to a later one, and a process that escaped an attempt's
// process group has no access to the files of the next. The Runner records in
// <root>/.corral-task-uids, synced, the first id after each block of 1024 it hands out, and a
// restarted agent starts there: ids are not reused after a restart or a crash, and a restart
// skips what is left of its block. A new attempt of a task keeps the working directory of
// earlier ones: Start first gives all of it to the new id (symbolic links are changed
// themselves, never followed).
//
// Under a root agent the node's files are:
//
//	<root>/                           root, 0711: tasks pass through it, and list nothing
//	  .corral-task-uids               root, 0600, as the node's credential must be
//	  shared/                         root, 1777, like /tmp: tasks remove only their own files
//	  startup/                        root, 0755
//	  workitems/<jobId>/job-1/        root, 0711 each
//	    <taskId>/                     root, 0755
//	      stdout.txt, stderr.txt      the attempt's, 0600
//	      wd/                         the attempt's, 0700, and all below it
//	      .corral-*                   root, 0600
//
// NewRunner gives these owners and modes to the node's directories, and the modes to task
// directories that exist already (made by an agent that did not run tasks as users of their
// own); Start gives them to the directories and files of each task it starts.
//
// So a task cannot read the node's credential, the agent's environment (/proc/<pid>/environ of
// another user), or another task's files and outputs, nor signal another task's processes;
// the agent reads everything, for the file API and results, and kills any task. Unlike on
// Azure, a task cannot create files in its task directory, only in its working directory: the
// task directory holds Corral's bookkeeping. A task could reach, through the file API, a file
// that it cannot read but hard-links into its working directory, if the kernel let it make the
// link: fs.protected_hardlinks, 1 by default on current distributions, forbids that.
//
// A task's user must be able to reach its working directory: every directory above the root
// must be searchable by other users (o+x). Where one is not (a root under /root, or under a
// directory of mode 0700), NewRunner logs a warning that names it and tasks run as root.
//
// An agent that is not root cannot change users: its tasks run as the agent's user, and can
// read and change all that the agent can, including the node's files, every other task's
// files, the node's credential and, through /proc, the agent's environment. An elevated task
// fails there without starting (code InvalidTaskRequest). The agent's directories are then
// 0755, and the outputs and bookkeeping files it creates 0600.
//
// # Environment
//
// A task's environment is, from first to last (a later one wins for a name set twice):
// PATH and HOME from the agent's environment (a standard PATH if the agent has none; HOME is
// the working directory where tasks run as users of their own; nothing else of the agent's
// environment, such as CORRAL_ACCOUNT_KEY, reaches tasks), then the task's environment
// settings, then these variables of Azure Batch's "runtime environment variables", which a
// task cannot override:
//
//	AZ_BATCH_ACCOUNT_NAME       Config.AccountName (only if set)
//	AZ_BATCH_ACCOUNT_URL        Config.AccountURL (only if set)
//	AZ_BATCH_JOB_ID             TaskSpec.JobID (not for the start task)
//	AZ_BATCH_TASK_ID            TaskSpec.TaskID (not for the start task)
//	AZ_BATCH_POOL_ID            TaskSpec.PoolID, or Config.PoolID
//	AZ_BATCH_NODE_ID            Config.NodeID
//	AZ_BATCH_NODE_IS_DEDICATED  "true", or "false" for a Config.LowPriority node
//	AZ_BATCH_NODE_ROOT_DIR      <root>
//	AZ_BATCH_NODE_SHARED_DIR    <root>/shared
//	AZ_BATCH_NODE_STARTUP_DIR   <root>/startup
//	AZ_BATCH_NODE_STARTUP_WORKING_DIR <root>/startup/wd
//	AZ_BATCH_TASK_DIR           <root>/workitems/<jobId>/job-1/<taskId> (<root>/startup for the start task)
//	AZ_BATCH_TASK_WORKING_DIR   its wd/
//
// Not set, because Corral does not have what they describe: AZ_BATCH_APP_PACKAGE_*
// (application packages), AZ_BATCH_AUTHENTICATION_TOKEN (retired by Azure in 2024),
// AZ_BATCH_CERTIFICATES_DIR (certificates), AZ_BATCH_NODE_MOUNTS_DIR (file system mounts),
// AZ_BATCH_JOB_PREP_DIR and AZ_BATCH_JOB_PREP_WORKING_DIR (job preparation tasks, not run by
// this package yet), AZ_BATCH_HOST_LIST, AZ_BATCH_IS_CURRENT_NODE_MASTER,
// AZ_BATCH_MASTER_NODE, AZ_BATCH_NODE_LIST, AZ_BATCH_TASK_SHARED_DIR and CCP_NODES
// (multi-instance tasks), AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES (no disk-full
// detection). AZ_BATCH_TASK_USER is not among Azure's documented variables, so it is not set.
//
// # Processes
//
// Each attempt runs in a process group of its own. Kill, the MaxWallClock timeout and Close
// send SIGKILL to the whole group, whatever user it runs as; when the main process exits, the
// rest of its group is killed too. A process killed by a signal has ExitCode 128+signal (137
// for SIGKILL), as a shell would report it; Azure does not document the exit code of a task it
// terminates on Linux.
//
// # Resource files and output files
//
// A Start with resource files returns once the attempt is recorded and in Running; a goroutine
// downloads the files into the working directory (an httpUrl with a plain GET, a
// storageContainerUrl's blobs with the Azure SDK's blob client, listed under blobPrefix), gives
// them their fileMode (0770 by default, as Azure) and the attempt's user, and only then starts
// the process (Config.OnStarted says when). Files are created through an os.Root on the
// working directory, so that no filePath, blob name or symbolic link left by an earlier attempt
// leads out of it. A download that fails ends the attempt without a process, with Azure's
// failure code (BlobNotFound, ResourceContainerAccessDenied, ResourceFileCreateFailed…); Kill
// and Close stop the downloads, and the attempt ends Killed.
//
// When the process ends (not by Kill or Close), the output files whose uploadCondition matches
// the exit are uploaded before the outcome is written: filePattern is expanded with the task's
// environment, matched with Azure's wildcards through an os.Root on the task directory (a
// pattern or link that leads out of it matches nothing, or fails), and each file goes to a
// block blob with the upload headers. Every file is tried; the first failure is the Result's
// UploadFailure (FileUploadContainerNotFound, FileUploadAccessDenied, FileUploadMiscError), and
// fileuploadout.txt and fileuploaderr.txt in the task directory say what was uploaded and what
// failed. Close waits for uploads under way. URLs carry SAS tokens: their query strings are cut
// from every message and log line.
//
// # Outcomes and restarts
//
// Each task directory has a journal, .corral-journal, to which the Runner only appends, one
// line per record: "start <attemptId>" when Start accepts an attempt (before its process
// starts), "result <attemptId> <Result as JSON>" when it ends, and "ack <attemptId>" when
// AckResult acknowledges that result. The latest start line names the task's current attempt:
// a result or ack line counts only for it, so a new attempt hides the previous one's result.
// Deleting a task directory deletes its bookkeeping with it; there is no index of the node's
// tasks to keep in step.
//
// The Runner keeps an attempt's journal open from Start to its end, and appends the result
// before Config.OnDone is called; an attempt stays in Running until then. So an agent that
// crashes after an attempt ended but before its report reached the service finds the result
// again after a restart: ReadResult reads one task's, PendingResults lists every result the
// service has not acknowledged yet, which is what a reconnecting agent reports. The start
// lines make a retried or late Start of an attempt a no-op, even across agent restarts: Start
// reads the journal of a task directory that exists already (a task directory it has just
// made has none), and the Runner remembers the results it wrote and has not seen acknowledged,
// so that neither a first attempt nor an acknowledgement reads a journal back. An agent that
// dies takes its running tasks with it: each task's main process gets SIGKILL from the kernel
// (parent-death signal), and such attempts have neither a result nor a place in Running after
// the restart, which tells the service they were lost. A last line that an agent died while
// writing (it has no newline) is ignored; the next line appended ends it first.
//
// Agents before the journal kept .corral-attempts and .corral-result.json instead; they are
// not read. An agent upgraded while results were unacknowledged, or with attempts of a task
// that may still be started again, should be drained first: otherwise such results are
// reported as lost (the service requeues those tasks), such an attempt could run again, and
// the node reports no start task attempt (so the service runs the start task again).
//
// Journals are not fsynced: they outlive a crash of the agent process (the kernel keeps what
// was written), not a crash of the machine. A machine that crashes takes its tasks with it; the
// service's record of each attempt is durable (the store fsyncs), and the node's loss requeues
// them, as Azure Batch requeues the tasks of a node that reboots. What a reboot can cost is an
// attempt id that runs a second time if its StartTask is delivered again afterwards (tasks run
// at least once, as in Azure Batch); a completion is still recorded once, by the service. Per-task
// fsyncs cost more than the tasks themselves on ordinary disks (go run ./bench/dag prints the
// cost where it runs), which is why the agent leaves durability to the service.

package agent
