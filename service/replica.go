package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"corral/actor"
	"corral/store"
)

// Several server replicas may share one store (PostgreSQL). One of them, the leader, runs the
// service's actors; the others are standbys that forward requests to it and take over when it
// goes. Leadership is a lease: one record that the leader rewrites (renews) every third of its
// lifetime. The record carries a term, a number that grows with every new leader, and every
// write the leader's service makes goes through a fenced store (FencedStore) that checks, in the
// same transaction, that the record still names this replica and term. A deposed leader that
// wakes up late (a long pause, a partition) can therefore change nothing: its first write fails.
//
// Expiry is judged by the standbys with their own clocks, never by comparing clocks across
// machines: a standby that has seen the record keep one version for a whole lifetime (TTL) takes
// it over with a conditional write on that version. A leader that could not renew for a whole
// lifetime, counted from before its last successful renewal began, steps down by itself: with
// clocks that run at the same rate, it does so before any standby can take over. Safety never
// depends on that timing: it rests on the fence.

// The lease record.
const (
	tableLeader = "leader"
	leaseKey    = "lease"
)

// ReplicaID is the actor of a replica's leadership.
const ReplicaID actor.ID = "replica"

// ErrDeposed is what a fenced store's Update returns when the lease no longer names the replica
// and term it was made for. It wraps store.ErrUnavailable: to the service it is a store that
// cannot take writes, so requests are answered ServerBusy and retried, by then at the new leader.
var ErrDeposed = fmt.Errorf("%w: this server is no longer the leader", store.ErrUnavailable)

// Lease is the leadership record.
type Lease struct {
	// Holder names the replica that holds the lease.
	Holder string `json:"holder"`
	// URL is where the other replicas forward requests to reach the holder.
	URL string `json:"url,omitempty"`
	// Term grows by one with every new leader: the fencing token.
	Term int64 `json:"term"`
	// TTLMillis is the lease's lifetime, in milliseconds, as its holder configured it.
	TTLMillis int64 `json:"ttlMs"`
	// Renewals counts the holder's renewals in this term (so that the record visibly changes).
	Renewals int64 `json:"renewals,omitempty"`
	// Version is the record's store version (not stored in the value).
	Version int64 `json:"-"`
}

// TTL is the lease's lifetime.
func (l Lease) TTL() time.Duration { return time.Duration(l.TTLMillis) * time.Millisecond }

// ReadLease reads the lease record; ok is false when no replica has ever held it.
func ReadLease(ctx context.Context, st store.Store) (l Lease, ok bool, err error) {
	err = st.View(ctx, func(tx store.Tx) error {
		l, ok, err = getLease(tx)
		return err
	})
	return l, ok, err
}

func getLease(tx store.Tx) (Lease, bool, error) {
	rec, err := tx.Get(tableLeader, leaseKey)
	if errors.Is(err, store.ErrNotFound) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, err
	}
	var l Lease
	if err := json.Unmarshal(rec.Value, &l); err != nil {
		return Lease{}, false, fmt.Errorf("decode lease: %w", err)
	}
	l.Version = rec.Version
	return l, true, nil
}

func putLease(tx store.Tx, l Lease, ifVersion int64) (int64, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("encode lease: %w", err)
	}
	return tx.Put(tableLeader, leaseKey, b, ifVersion)
}

// FencedStore returns st with every Update fenced by the lease: before fn runs, the Update checks
// in its own transaction that the lease is held by holder in term, and fails with ErrDeposed if
// not. Because Updates are serializable, a write of a deposed leader can never commit after the
// write that took its lease. Views are not fenced (they change nothing). Close does not close st.
func FencedStore(st store.Store, holder string, term int64) store.Store {
	return &fencedStore{st: st, holder: holder, term: term}
}

type fencedStore struct {
	st     store.Store
	holder string
	term   int64
}

func (f *fencedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return f.st.Update(ctx, func(tx store.Tx) error {
		l, ok, err := getLease(tx)
		if err != nil {
			return err
		}
		if !ok || l.Holder != f.holder || l.Term != f.term {
			return ErrDeposed
		}
		return fn(tx)
	})
}

func (f *fencedStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return f.st.View(ctx, fn)
}

func (f *fencedStore) Close() error { return nil }

// ReplicaConfig configures a replica's leadership.
type ReplicaConfig struct {
	// Store is the store the replicas share, unfenced.
	Store store.Store
	// Name names this replica among all of them; it must be unique and stable across its
	// restarts (a restarted replica that finds the lease in its own name takes it back at once).
	Name string
	// URL is where the other replicas forward requests to this one while it leads.
	URL string
	// TTL is the lease's lifetime. The leader renews every TTL/3; a standby takes over after
	// seeing no renewal for TTL.
	TTL time.Duration
	// OnLead is called, in the replica's handler, when this replica becomes leader. st is the
	// shared store fenced for term: everything the leader writes goes through it. It must not
	// block; it boots the service (or has it booted) with st.
	OnLead func(term int64, st store.Store)
	// OnDepose is called, in the replica's handler, when this replica stops leading: the lease
	// went to another, or it could not be renewed for a whole TTL. The service of that term must
	// then be stopped and everything it held in memory dropped, as a crash would. It must not
	// block.
	OnDepose func(term int64, why string)
}

// LeaderElected is announced when a replica takes the lease.
type LeaderElected struct {
	Replica string
	Term    int64
}

// LeaderDeposed is announced when a replica stops leading.
type LeaderDeposed struct {
	Replica string
	Term    int64
	Why     string
}

// BootReplica creates the replica's leadership actor on h. It starts as a standby; the service
// runs only while it leads (see ReplicaConfig.OnLead).
func BootReplica(h actor.Host, cfg ReplicaConfig) error {
	if cfg.Name == "" || cfg.TTL <= 0 {
		return fmt.Errorf("boot replica: a name and a positive TTL are needed")
	}
	if _, err := h.Create(string(ReplicaID), &replica{cfg: cfg}); err != nil {
		return fmt.Errorf("boot replica: %w", err)
	}
	return nil
}

type replica struct {
	cfg     ReplicaConfig
	ticking bool

	// As a standby: the lease version last seen, and when it was first seen.
	seen   int64
	seenAt time.Time

	// As the leader: the term and the version of the record after the last renewal, and the
	// timer that deposes this replica when its lease would lapse.
	term    int64
	renewal int64
	expiry  actor.TimerID
}

type replicaTick struct{}

type leaseLapsed struct{ Term int64 }

func (r *replica) Define(m *actor.Machine) {
	m.State("Standby",
		actor.OnEntry(func(ctx *actor.Context) {
			if !r.ticking {
				r.ticking = true
				ctx.StartPeriodicTimer(r.cfg.TTL/3, r.cfg.TTL/3, replicaTick{})
			}
		}),
		actor.On(func(ctx *actor.Context, _ replicaTick) { r.watch(ctx) }),
		actor.Ignore[leaseLapsed](),
		actor.Targets("Leading"))
	m.State("Leading",
		actor.On(func(ctx *actor.Context, _ replicaTick) { r.renew(ctx) }),
		actor.On(func(ctx *actor.Context, e leaseLapsed) {
			if e.Term == r.term {
				r.depose(ctx, "the lease could not be renewed within its lifetime")
			}
		}),
		actor.Targets("Standby"))
}

// watch is a standby's look at the lease: it takes it when there is none, when it names this
// replica (a restart), or when it has not changed for a whole lifetime.
func (r *replica) watch(ctx *actor.Context) {
	l, ok, err := ReadLease(context.Background(), r.cfg.Store)
	if err != nil {
		ctx.Log("replica: cannot read the lease", "err", err)
		return
	}
	now := ctx.Now()
	switch {
	case !ok:
		r.acquire(ctx, 0, 0)
	case l.Holder == r.cfg.Name:
		r.acquire(ctx, l.Version, l.Term)
	case l.Version != r.seen:
		r.seen, r.seenAt = l.Version, now
	case now.Sub(r.seenAt) >= l.TTL():
		r.acquire(ctx, l.Version, l.Term)
	}
}

// acquire writes the lease in this replica's name with the next term, if the record is still at
// version (0: absent). Whoever wrote it in between wins.
func (r *replica) acquire(ctx *actor.Context, version, term int64) {
	start := ctx.Now()
	l := Lease{Holder: r.cfg.Name, URL: r.cfg.URL, Term: term + 1, TTLMillis: r.cfg.TTL.Milliseconds()}
	var v int64
	err := r.cfg.Store.Update(context.Background(), func(tx store.Tx) error {
		var err error
		v, err = putLease(tx, l, version)
		return err
	})
	if err != nil {
		// Another replica moved first (or the store failed): watch again from scratch.
		r.seen = 0
		ctx.Log("replica: lease not taken", "term", l.Term, "err", err)
		return
	}
	r.term, r.renewal = l.Term, v
	r.expiry = ctx.StartTimer(r.cfg.TTL-ctx.Now().Sub(start), leaseLapsed{Term: l.Term})
	ctx.Goto("Leading")
	ctx.Log("replica: leading", "term", l.Term)
	ctx.Announce(LeaderElected{Replica: r.cfg.Name, Term: l.Term})
	if r.cfg.OnLead != nil {
		r.cfg.OnLead(l.Term, FencedStore(r.cfg.Store, r.cfg.Name, l.Term))
	}
}

// renew rewrites the lease if it still names this replica and term. A lease found in other hands
// deposes the replica at once; a store that fails leaves it leading until the lease would lapse.
func (r *replica) renew(ctx *actor.Context) {
	start := ctx.Now()
	var v int64
	err := r.cfg.Store.Update(context.Background(), func(tx store.Tx) error {
		l, ok, err := getLease(tx)
		if err != nil {
			return err
		}
		if !ok || l.Holder != r.cfg.Name || l.Term != r.term {
			return ErrDeposed
		}
		l.Renewals++
		v, err = putLease(tx, l, l.Version)
		return err
	})
	switch {
	case errors.Is(err, ErrDeposed):
		r.depose(ctx, "another server took the lease")
	case err != nil:
		ctx.Log("replica: lease not renewed", "term", r.term, "err", err)
	default:
		r.renewal = v
		ctx.CancelTimer(r.expiry)
		r.expiry = ctx.StartTimer(r.cfg.TTL-ctx.Now().Sub(start), leaseLapsed{Term: r.term})
	}
}

func (r *replica) depose(ctx *actor.Context, why string) {
	term := r.term
	ctx.CancelTimer(r.expiry)
	r.term, r.renewal, r.seen = 0, 0, 0
	ctx.Goto("Standby")
	ctx.Log("replica: no longer leading", "term", term, "why", why)
	ctx.Announce(LeaderDeposed{Replica: r.cfg.Name, Term: term, Why: why})
	if r.cfg.OnDepose != nil {
		r.cfg.OnDepose(term, why)
	}
}
