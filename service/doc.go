// Package service is Corral's batch service, written as actors on the actor runtime: the same
// code runs in production (actor.Engine, SQLite, node-agent processes) and under the systematic
// tester (actor/systest, memstore, models of agents and VM providers).
//
// # Actors and who owns what
//
//   - The job manager of a job (one actor per life of a job, "job/<id>#<incarnation>") owns the job's record and its
//     tasks' records: it adds tasks, keeps the dependency graph (batch.Graph), decides retries,
//     requeues and exit-condition actions, and completes or terminates the job. Nothing else
//     writes a task. It keeps the job's task counts in the same transactions (jobcounts.go), and
//     deletes a job in the background, a chunk of tasks at a time (jobdelete.go). Of a completed
//     task it keeps only what its decisions need, and reads the record back when a request needs
//     more (jobdone.go).
//   - The scheduler of a pool id ("sched/<pool>", outliving the pool's lives) owns placement: the queue of ready tasks of every
//     job on the pool and the free slots of every node. It proposes a placement to the task's job
//     manager, which records the attempt (task running on node N, attempt A) before the node is
//     told to start it. While the pool's tasks are short it also places tasks on nodes' queues,
//     beyond their free slots, and asks for them back when another node idles (queue.go).
//   - The node session of a node ("node/<pool>/<node>") owns the conversation with the node's
//     agent (package agent/protocol): it sends StartTask and KillTask, takes reports, acknowledges
//     results once the job manager has recorded them, and declares the node lost when it stops
//     hearing from it. It carries out what the pool manager records of the node: its scheduling
//     disabled (nodesched.go), a reboot or reimage (noderestart.go, RestartNode to the agent).
//   - The pool manager of a pool ("pool/<id>#<incarnation>") owns the pool's record and its nodes: it asks the
//     VM provider (compute.ProviderID) for nodes and releases them.
//   - The actor of a job schedule ("jobschedule/<id>#<incarnation>") owns the schedule's record: it
//     creates the schedule's jobs when they are due (each in one transaction with the schedule's
//     record of it), one active at a time, and terminates and deletes them with the schedule
//     (see schedule.go).
//
// Pool ids in actor ids and record keys are in lower case, as Azure Batch ids are case-insensitive:
// a job that names its pool in another case reaches the same scheduler, sessions and records.
//
// Ids users give can be deleted and used again; incarnations keep the lives apart (see
// incarnation.go): attempt ids, attempt records, agent commands and results name the life of the
// job and task they belong to, and node ids are never used twice.
//
// # Durability
//
// The store is the source of truth; actors hold caches. Every change the API acknowledges, and
// every attempt a node is told to start, is in the store first. A crash of the service host loses
// every actor; a restart rebuilds them from the store: jobs that are not finished, their tasks,
// attempts recorded as running. Agents outlive the service: when they reconnect, their Hello lists
// what they run and what they finished, and the node session reconciles. An attempt has an id and
// a report about a stale attempt changes nothing: a task runs at least once and completes exactly
// once.
//
// # Rules
//
// Code here never blocks, starts goroutines, reads the clock or draws random numbers: time,
// timers and randomness come from actor.Context (actorvet checks this in the package's tests). It
// talks to the outside world only by events to actors (compute.ProviderID, the agents) and by
// calls to store.Store, which the tester can make fail.
package service
