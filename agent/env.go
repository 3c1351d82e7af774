package agent

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvSetting is one of a task's environment settings (Azure's EnvironmentSetting).
type EnvSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// defaultPath is the PATH a task gets when the agent itself has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func validateEnv(env []EnvSetting) error {
	for _, e := range env {
		if e.Name == "" || strings.ContainsAny(e.Name, "=\x00") {
			return fmt.Errorf("agent: invalid environment variable name %q", e.Name)
		}
		if strings.IndexByte(e.Value, 0) >= 0 {
			return fmt.Errorf("agent: environment variable %s has a NUL byte in its value", e.Name)
		}
	}
	return nil
}

// envBuilder collects NAME=value pairs; a later setting of a name replaces an earlier one in
// place.
type envBuilder struct {
	index map[string]int
	list  []string
}

func (b *envBuilder) set(name, value string) {
	if b.index == nil {
		b.index = make(map[string]int)
	}
	kv := name + "=" + value
	if i, ok := b.index[name]; ok {
		b.list[i] = kv
		return
	}
	b.index[name] = len(b.list)
	b.list = append(b.list, kv)
}

func (b *envBuilder) get(name string) string {
	if i, ok := b.index[name]; ok {
		return b.list[i][len(name)+1:]
	}
	return ""
}

// taskEnv builds a task's environment, in this order (a later source wins for a name set twice):
//  1. PATH and HOME from the agent's environment (nothing else of it); HOME is the working
//     directory instead when the task runs as a user of its own (or as root, elevated, on
//     an agent that isolates tasks);
//  2. the task's environment settings, in order;
//  3. the AZ_BATCH_* variables, which a task cannot override.
func (r *Runner) taskEnv(spec TaskSpec, dir, wd string) *envBuilder {
	b := &envBuilder{}
	b.set("PATH", r.path)
	if r.isolate {
		b.set("HOME", wd)
	} else if r.home != "" {
		b.set("HOME", r.home)
	}
	for _, e := range spec.Env {
		b.set(e.Name, e.Value)
	}
	if r.cfg.AccountName != "" {
		b.set("AZ_BATCH_ACCOUNT_NAME", r.cfg.AccountName)
	}
	if r.cfg.AccountURL != "" {
		b.set("AZ_BATCH_ACCOUNT_URL", r.cfg.AccountURL)
	}
	if !spec.StartTask {
		// As on Azure, the start task has no job and no task id.
		b.set("AZ_BATCH_JOB_ID", spec.JobID)
		b.set("AZ_BATCH_TASK_ID", spec.TaskID)
	}
	pool := spec.PoolID
	if pool == "" {
		pool = r.cfg.PoolID
	}
	b.set("AZ_BATCH_POOL_ID", pool)
	b.set("AZ_BATCH_NODE_ID", r.cfg.NodeID)
	b.set("AZ_BATCH_NODE_IS_DEDICATED", strconv.FormatBool(!r.cfg.LowPriority))
	b.set("AZ_BATCH_NODE_ROOT_DIR", r.Root())
	b.set("AZ_BATCH_NODE_SHARED_DIR", r.SharedDir())
	b.set("AZ_BATCH_NODE_STARTUP_DIR", r.StartupDir())
	b.set("AZ_BATCH_NODE_STARTUP_WORKING_DIR", filepath.Join(r.StartupDir(), WorkingDirName))
	b.set("AZ_BATCH_TASK_DIR", dir)
	b.set("AZ_BATCH_TASK_WORKING_DIR", wd)
	if spec.JobPrepTaskID != "" && !spec.StartTask {
		if prep, err := r.TaskDir(spec.JobID, spec.JobPrepTaskID); err == nil {
			b.set("AZ_BATCH_JOB_PREP_DIR", prep)
			b.set("AZ_BATCH_JOB_PREP_WORKING_DIR", filepath.Join(prep, WorkingDirName))
		}
	}
	return b
}
