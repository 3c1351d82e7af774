package batch

import (
	"bytes"
	"encoding/json"
	"strings"
)

// What Corral does not implement. Each request property of Azure's PoolAddParameter,
// JobAddParameter and TaskAddParameter is either acted on, kept because it only matters on Azure
// itself (vmSize, the VM image…), or refused here with 400 UnsupportedProperty, naming it, when
// it is given with a value other than its default: Corral never answers 2xx to a request and
// then ignores part of it. An explicit null, an empty list or an empty object asks for nothing
// and is accepted. docs/compatibility.md lists every property and the decision.

// Unsupported is one property Corral refuses, and why.
type Unsupported struct {
	Property string
	Reason   string
}

// UnsupportedPoolProperties are the pool properties [ValidatePool] refuses.
var UnsupportedPoolProperties = []Unsupported{
	{"networkConfiguration", "Corral's nodes are not on Azure virtual networks"},
	{"certificateReferences", "certificates are not installed on nodes"},
	{"applicationPackageReferences", "application packages are not supported"},
	{"applicationLicenses", "application licenses are not supported"},
	{"userAccounts", "user accounts are not created on nodes; tasks run as the node agent's user"},
	{"mountConfiguration", "file systems are not mounted on nodes"},
	{"virtualMachineConfiguration.containerConfiguration", "tasks do not run in containers"},
}

// UnsupportedJobProperties are the job properties [ValidateJob] refuses.
var UnsupportedJobProperties = []Unsupported{
	{"priority", "job priorities are not implemented: tasks of every job are scheduled in the order they become ready; leave priority out or 0"},
	{"allowTaskPreemption", "job priorities are not implemented, so no task is preempted for another job's; leave it out or false"},
	{"maxParallelTasks", "maxParallelTasks is not enforced yet; leave it out or -1"},
	{"constraints.maxWallClockTime", "a job's maxWallClockTime is not enforced yet; give maxWallClockTime to its tasks"},
	{"networkConfiguration", "Corral's nodes are not on Azure virtual networks"},
	{"poolInfo.autoPoolSpecification", "auto pools are not supported; create a pool and give its poolId"},
	{"jobManagerTask", "job manager tasks are not supported yet; add the tasks to the job"},
}

// UnsupportedTaskProperties are the task properties [ValidateTask] refuses.
var UnsupportedTaskProperties = []Unsupported{
	{"resourceFiles.autoStorageContainerName", "Corral has no linked (auto-storage) account; give storageContainerUrl with a SAS instead"},
	{"resourceFiles.identityReference", "nodes have no managed identities; give URLs with a SAS"},
	{"outputFiles.destination.container.identityReference", "nodes have no managed identities; give containerUrl with a SAS"},
	{"affinityInfo", "the scheduler does not use affinity hints"},
	{"applicationPackageReferences", "application packages are not supported"},
	{"authenticationTokenSettings", "tasks get no authentication token"},
	{"containerSettings", "tasks do not run in containers"},
	{"multiInstanceSettings", "multi-instance (MPI) tasks are not supported"},
	{"userIdentity.userName", "named user accounts are not supported: tasks run as the node agent's user"},
	{"userIdentity.autoUser.elevationLevel", "tasks run as the node agent's user and are not elevated: leave elevationLevel out or nonadmin"},
}

// refuse returns the UnsupportedProperty error for property, with its reason from list.
func refuse(list []Unsupported, property string) *Error {
	return unsupported(property, reasonOf(list, property))
}

// reasonOf returns the reason list gives for refusing property.
func reasonOf(list []Unsupported, property string) string {
	for _, u := range list {
		if u.Property == property {
			return u.Reason
		}
	}
	return "not supported"
}

// given reports whether a kept-as-is property asks for something: it is present and not null,
// an empty list or an empty object.
func given(raw json.RawMessage) bool {
	if len(bytes.TrimSpace(raw)) == 0 {
		return false
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return true
	}
	switch b.String() {
	case "null", "[]", "{}":
		return false
	}
	return true
}

// checkPoolSupported refuses the pool properties Corral does not implement.
func checkPoolSupported(p Pool) *Error {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{
		{"networkConfiguration", p.NetworkConfiguration},
		{"certificateReferences", p.CertificateReferences},
		{"applicationPackageReferences", p.ApplicationPackageReferences},
		{"applicationLicenses", p.ApplicationLicenses},
		{"userAccounts", p.UserAccounts},
		{"mountConfiguration", p.MountConfiguration},
	} {
		if given(f.raw) {
			return refuse(UnsupportedPoolProperties, f.name)
		}
	}
	if given(p.VirtualMachineConfiguration) {
		var vm struct {
			ContainerConfiguration json.RawMessage `json:"containerConfiguration"`
		}
		if err := json.Unmarshal(p.VirtualMachineConfiguration, &vm); err != nil {
			return invalid("virtualMachineConfiguration", string(p.VirtualMachineConfiguration),
				"virtualMachineConfiguration is an object")
		}
		if given(vm.ContainerConfiguration) {
			return refuse(UnsupportedPoolProperties, "virtualMachineConfiguration.containerConfiguration")
		}
	}
	return nil
}

// checkJobSupported refuses the job properties Corral does not implement.
func checkJobSupported(j Job) *Error {
	switch {
	case j.Priority != nil && *j.Priority != 0:
		return refuse(UnsupportedJobProperties, "priority")
	case j.AllowTaskPreemption != nil && *j.AllowTaskPreemption:
		return refuse(UnsupportedJobProperties, "allowTaskPreemption")
	case j.MaxParallelTasks != nil && *j.MaxParallelTasks != -1:
		return refuse(UnsupportedJobProperties, "maxParallelTasks")
	case j.Constraints != nil && j.Constraints.MaxWallClockTime != nil && j.Constraints.MaxWallClockTime.Std() != Infinite:
		return refuse(UnsupportedJobProperties, "constraints.maxWallClockTime")
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{
		{"networkConfiguration", j.NetworkConfiguration},
		{"poolInfo.autoPoolSpecification", j.PoolInfo.AutoPoolSpecification},
		{"jobManagerTask", j.JobManagerTask},
	} {
		if given(f.raw) {
			return refuse(UnsupportedJobProperties, f.name)
		}
	}
	return nil
}

// checkTaskSupported refuses the task properties Corral does not implement.
func checkTaskSupported(t Task) *Error {
	if t.AffinityInfo != nil {
		return refuse(UnsupportedTaskProperties, "affinityInfo")
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{
		{"applicationPackageReferences", t.ApplicationPackageReferences},
		{"authenticationTokenSettings", t.AuthenticationTokenSettings},
		{"containerSettings", t.ContainerSettings},
		{"multiInstanceSettings", t.MultiInstanceSettings},
	} {
		if given(f.raw) {
			return refuse(UnsupportedTaskProperties, f.name)
		}
	}
	return checkUserIdentity("userIdentity", t.UserIdentity, UnsupportedTaskProperties)
}

// checkUserIdentity checks a task's userIdentity (property names it in errors): the auto-user,
// not elevated, is what Corral runs tasks as; a named user or elevation is refused, with the
// reason in list.
func checkUserIdentity(property string, raw json.RawMessage, list []Unsupported) *Error {
	if given(raw) {
		var id struct {
			UserName string `json:"userName"`
			AutoUser *struct {
				Scope          string `json:"scope"`
				ElevationLevel string `json:"elevationLevel"`
			} `json:"autoUser"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&id); err != nil {
			return invalid(property, string(raw),
				"userIdentity is an object with userName or autoUser {scope, elevationLevel}")
		}
		if id.UserName != "" {
			return refuse(list, property+".userName")
		}
		if a := id.AutoUser; a != nil {
			if s := strings.ToLower(a.Scope); s != "" && s != "task" && s != "pool" {
				return invalid(property+".autoUser.scope", a.Scope, "scope is task or pool")
			}
			switch strings.ToLower(a.ElevationLevel) {
			case "", "nonadmin":
			case "admin":
				return refuse(list, property+".autoUser.elevationLevel")
			default:
				return invalid(property+".autoUser.elevationLevel", a.ElevationLevel,
					"elevationLevel is nonadmin or admin")
			}
		}
	}
	return nil
}
