// Package static is the VM provider of machines that an operator starts by hand: on each one,
// `corral agent` joins a pool with an open join token, and waits. The machines that have joined
// a pool are its inventory; a node of the pool is one of them, lent to it.
//
// When the pool manager asks for a node (CreateVM), the provider lends it a free machine of the
// pool, if there is one, and answers VMCreated at once; the machine's agent, which long polls
// the provider's assignment endpoint (AssignPath), learns which node it now is and gets the
// node's credential. When there is none, the creation waits, as an allocation on a cloud does,
// until a machine joins the pool or one of its nodes is deleted (first asked, first served),
// and the server's log says how many machines the pool has: a pool (or an autoscale formula)
// can only get what has joined. A resize that asks for more ends, after its resize timeout,
// with the pool's AllocationTimedOut resize error; stopping it, or deleting the waiting node,
// answers the creation VMFailed. Deleting a node (DeleteVM) gives its machine back to the
// inventory; the node's credential is revoked (by the server, before the provider hears of
// it), so the agent is refused, kills what it ran, forgets the node, and waits for the next
// assignment. ListVMs lists the machines lent and the creations waiting.
//
// A machine stays in the inventory until the operator forgets it (Forget): then its credential
// is worthless, and a node it was lent to is reported lost (VMLost), its tasks requeued.
// A machine whose agent stops reporting is found by the node's session, which marks the node
// lost after the heartbeat timeout, as for any node.
//
// The inventory and the loans are kept in the store (table "machines"), so they survive a
// restart of the server. The machine's credential is kept as a SHA-256 hash. Handlers write to
// the store synchronously (a few milliseconds); this package is not actor code.
package static

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"corral/actor"
	"corral/compute"
	"corral/nodeauth"
	"corral/store"
)

const table = "machines"

// Machine is one machine of a pool's inventory.
type Machine struct {
	PoolID   string    `json:"poolId"`
	ID       string    `json:"id"`
	Hostname string    `json:"hostname,omitempty"`
	Joined   time.Time `json:"joined"`
	// NodeID is the node the machine is lent to; empty while it is free.
	NodeID string `json:"nodeId,omitempty"`
	// Dedicated is the kind of node it is lent as.
	Dedicated bool   `json:"dedicated,omitempty"`
	Hash      string `json:"hash"` // hex SHA-256 of the machine's secret
}

// Credentials issues node credentials for machines that are lent (nodeauth.Registry does).
type Credentials interface {
	IssueNode(ctx context.Context, poolID, nodeID string) (string, error)
}

// Config configures a Provider.
type Config struct {
	// Runtime is the runtime the provider's actor lives in; answers are sent through it.
	Runtime actor.Runtime
	// Store keeps the inventory.
	Store store.Store
	// Credentials issues the credential of the node a machine becomes.
	Credentials Credentials
	// NotifyTo names the recipient of VMLost for a node whose machine is forgotten.
	NotifyTo actor.ID
	// Logger receives the provider's reports; nil means slog.Default(). It never receives
	// secrets.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Provider lends joined machines to pools. Its methods are safe for concurrent use.
type Provider struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	machines map[string]*Machine // by pool/id
	wake     map[string]chan struct{}
	answers  map[string]actor.Event // final answers by request id, for repeated requests
	answered []string
	waiting  []compute.CreateVM // creations waiting for a machine, first asked first
}

// rememberedAnswers bounds how many finished requests the provider recognises when repeated.
const rememberedAnswers = 4096

// New loads the inventory from the store.
func New(cfg Config) (*Provider, error) {
	if cfg.Runtime == nil || cfg.Store == nil || cfg.Credentials == nil {
		return nil, errors.New("static: Runtime, Store and Credentials are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Provider{cfg: cfg, log: cfg.Logger, machines: map[string]*Machine{}, wake: map[string]chan struct{}{}, answers: map[string]actor.Event{}}
	err := cfg.Store.View(context.Background(), func(tx store.Tx) error {
		recs, err := tx.List(table, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range recs {
			var m Machine
			if err := json.Unmarshal(r.Value, &m); err != nil {
				return fmt.Errorf("machine %s: %w", r.Key, err)
			}
			p.machines[r.Key] = &m
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: load machines: %w", err)
	}
	return p, nil
}

func key(poolID, id string) string { return poolID + "/" + id }

// save writes m (or deletes it when del) in the store. p.mu is held.
func (p *Provider) save(m *Machine, del bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if del {
			err := tx.Delete(table, key(m.PoolID, m.ID), store.AnyVersion)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = tx.Put(table, key(m.PoolID, m.ID), b, store.AnyVersion)
		return err
	})
}

// Join adds a machine to a pool's inventory and returns its id and secret (the only copy).
// It is what an open join token is redeemed for.
func (p *Provider) Join(poolID, hostname string) (id, secret string, err error) {
	if secret, err = nodeauth.NewSecret(32); err != nil {
		return "", "", err
	}
	idb := make([]byte, 5)
	if _, err := rand.Read(idb); err != nil {
		return "", "", fmt.Errorf("static: random: %w", err)
	}
	id = "m-" + hex.EncodeToString(idb)
	m := &Machine{PoolID: poolID, ID: id, Hostname: sanitize(hostname), Joined: p.cfg.Now().UTC(), Hash: nodeauth.HashSecret(secret)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.save(m, false); err != nil {
		return "", "", fmt.Errorf("static: join pool %s: %w", poolID, err)
	}
	p.machines[key(poolID, id)] = m
	p.log.Info("static provider: machine joined", "pool", poolID, "machine", id, "hostname", m.Hostname)
	p.serveWaitingLocked(poolID)
	return id, secret, nil
}

// sanitize keeps a hostname printable and short, for logs and listings.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 253 {
		s = s[:253]
	}
	return s
}

// Machines returns a pool's machines (every pool's if poolID is empty), by pool and id, without
// their hashes.
func (p *Provider) Machines(poolID string) []Machine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Machine
	for _, m := range p.machines {
		if poolID == "" || m.PoolID == poolID {
			c := *m
			c.Hash = ""
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i].PoolID, out[i].ID) < key(out[j].PoolID, out[j].ID) })
	return out
}

// ErrUnknownMachine is returned for a machine the pool does not have.
var ErrUnknownMachine = errors.New("static: no such machine in the pool")

// Forget removes a machine from its pool's inventory: its credential is worthless from then on,
// and a node it was lent to is reported lost.
func (p *Provider) Forget(poolID, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.machines[key(poolID, id)]
	if !ok {
		return ErrUnknownMachine
	}
	if err := p.save(m, true); err != nil {
		return fmt.Errorf("static: forget machine %s: %w", id, err)
	}
	delete(p.machines, key(poolID, id))
	p.wakeLocked(poolID, id)
	p.log.Info("static provider: machine forgotten", "pool", poolID, "machine", id, "node", m.NodeID)
	if m.NodeID != "" && p.cfg.NotifyTo != "" {
		p.send(p.cfg.NotifyTo, compute.VMLost{PoolID: poolID, NodeID: m.NodeID, Reason: "its machine " + id + " was removed from the pool's inventory"})
	}
	return nil
}

// checkLocked returns the machine whose secret this is, or nil. p.mu is held.
func (p *Provider) checkLocked(poolID, id, secret string) *Machine {
	m, ok := p.machines[key(poolID, id)]
	hash := ""
	if ok {
		hash = m.Hash
	}
	if !nodeauth.SecretMatches(secret, hash) || !ok {
		return nil
	}
	return m
}

func (p *Provider) wakeLocked(poolID, id string) {
	if ch, ok := p.wake[key(poolID, id)]; ok {
		close(ch)
		delete(p.wake, key(poolID, id))
	}
}

// Assignment is what a machine polling for work learns.
type Assignment struct {
	// NodeID is the node the machine is lent to; empty while it is free.
	NodeID string `json:"nodeId,omitempty"`
	// Credential is the node's credential, issued for this answer (it replaces any before).
	Credential string `json:"credential,omitempty"`
}

// ErrRefused is returned by Await for a machine that is unknown or whose secret is wrong.
var ErrRefused = errors.New("static: machine credential refused")

// Await returns the machine's assignment once it is lent to a node, or an empty one after wait.
// Every answer that names a node carries a new credential for it.
func (p *Provider) Await(ctx context.Context, poolID, id, secret string, wait time.Duration) (Assignment, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		m := p.checkLocked(poolID, id, secret)
		if m == nil {
			p.mu.Unlock()
			return Assignment{}, ErrRefused
		}
		if m.NodeID != "" {
			node := m.NodeID
			p.mu.Unlock()
			cred, err := p.cfg.Credentials.IssueNode(ctx, poolID, node)
			if err != nil {
				return Assignment{}, fmt.Errorf("static: credential of node %s: %w", node, err)
			}
			p.log.Info("static provider: machine takes its node", "pool", poolID, "machine", id, "node", node)
			return Assignment{NodeID: node, Credential: cred}, nil
		}
		ch, ok := p.wake[key(poolID, id)]
		if !ok {
			ch = make(chan struct{})
			p.wake[key(poolID, id)] = ch
		}
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return Assignment{}, nil
		case <-ctx.Done():
			return Assignment{}, ctx.Err()
		}
	}
}

// Actor returns the provider's actor, to create under compute.ProviderID (or behind it).
func (p *Provider) Actor() actor.Actor { return &providerActor{p: p} }

type providerActor struct{ p *Provider }

// Define declares the actor's one state.
func (a *providerActor) Define(m *actor.Machine) {
	m.State("Serving",
		actor.On(func(_ *actor.Context, c compute.CreateVM) { a.p.create(c) }),
		actor.On(func(_ *actor.Context, d compute.DeleteVM) { a.p.delete(d) }),
		actor.On(func(_ *actor.Context, l compute.ListVMs) { a.p.list(l) }),
	)
}

// send delivers an event with the runtime, so that a ReplyTo naming no actor is logged.
func (p *Provider) send(to actor.ID, ev actor.Event) {
	if err := p.cfg.Runtime.Send(to, ev); err != nil {
		p.log.Warn("static provider: answer not delivered", "to", to, "event", actor.EventName(ev), "err", err)
	}
}

// answerLocked sends the final answer to request id and remembers it. p.mu is held.
func (p *Provider) answerLocked(id string, to actor.ID, ev actor.Event) {
	if _, ok := p.answers[id]; !ok {
		p.answers[id] = ev
		p.answered = append(p.answered, id)
		if len(p.answered) > rememberedAnswers {
			delete(p.answers, p.answered[0])
			p.answered = p.answered[1:]
		}
	}
	p.send(to, ev)
}

// repeatLocked answers a request seen before as it was answered; it reports whether it did.
func (p *Provider) repeatLocked(id string, to actor.ID) bool {
	if ev, ok := p.answers[id]; ok {
		p.send(to, ev)
		return true
	}
	return false
}

// lentLocked returns the machine lent to a node, or nil. p.mu is held.
func (p *Provider) lentLocked(poolID, nodeID string) *Machine {
	for _, m := range p.machines {
		if m.PoolID == poolID && m.NodeID == nodeID {
			return m
		}
	}
	return nil
}

func (p *Provider) create(c compute.CreateVM) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.repeatLocked(c.RequestID, c.ReplyTo) {
		return
	}
	if m := p.lentLocked(c.PoolID, c.NodeID); m != nil {
		p.answerLocked(c.RequestID, c.ReplyTo, compute.VMCreated{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Address: m.Hostname})
		return
	}
	for _, w := range p.waiting {
		if w.PoolID == c.PoolID && w.NodeID == c.NodeID {
			return // waiting already: the first request's answer answers this one too
		}
	}
	p.waiting = append(p.waiting, c)
	if !p.serveWaitingLocked(c.PoolID) {
		joined := 0
		for _, m := range p.machines {
			if m.PoolID == c.PoolID {
				joined++
			}
		}
		p.log.Warn("static provider: no machine free; the node waits for one to join or be given back",
			"pool", c.PoolID, "node", c.NodeID, "machines", joined)
	}
}

// serveWaitingLocked lends the pool's free machines to its waiting creations, first asked first
// served, and reports whether it served any. p.mu is held.
func (p *Provider) serveWaitingLocked(poolID string) bool {
	served := false
	for i := 0; i < len(p.waiting); {
		c := p.waiting[i]
		if c.PoolID != poolID {
			i++
			continue
		}
		m := p.freeLocked(poolID)
		if m == nil {
			break
		}
		old := *m
		m.NodeID, m.Dedicated = c.NodeID, c.Dedicated
		if err := p.save(m, false); err != nil {
			*m = old
			p.log.Error("static provider: the inventory could not be written; the node waits", "pool", poolID, "node", c.NodeID, "err", err)
			break
		}
		p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
		p.wakeLocked(m.PoolID, m.ID)
		p.log.Info("static provider: machine lent", "pool", poolID, "node", c.NodeID, "machine", m.ID, "hostname", m.Hostname)
		p.answerLocked(c.RequestID, c.ReplyTo, compute.VMCreated{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Address: m.Hostname})
		served = true
	}
	return served
}

// freeLocked returns the pool's free machine that joined first, or nil. p.mu is held.
func (p *Provider) freeLocked(poolID string) *Machine {
	var best *Machine
	for _, m := range p.machines {
		if m.PoolID != poolID || m.NodeID != "" {
			continue
		}
		if best == nil || m.Joined.Before(best.Joined) || m.Joined.Equal(best.Joined) && m.ID < best.ID {
			best = m
		}
	}
	return best
}

func (p *Provider) delete(d compute.DeleteVM) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.repeatLocked(d.RequestID, d.ReplyTo) {
		return
	}
	for i, w := range p.waiting {
		if w.PoolID == d.PoolID && w.NodeID == d.NodeID {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			p.answerLocked(w.RequestID, w.ReplyTo, compute.VMFailed{RequestID: w.RequestID, PoolID: w.PoolID, NodeID: w.NodeID, Reason: "cancelled while waiting for a machine to join the pool"})
			break
		}
	}
	if m := p.lentLocked(d.PoolID, d.NodeID); m != nil {
		old := *m
		m.NodeID, m.Dedicated = "", false
		if err := p.save(m, false); err != nil {
			*m = old
			p.log.Error("static provider: machine not given back; the pool manager will ask again", "pool", d.PoolID, "node", d.NodeID, "err", err)
			return
		}
		p.log.Info("static provider: machine given back", "pool", d.PoolID, "node", d.NodeID, "machine", m.ID)
		defer p.serveWaitingLocked(d.PoolID) // after the VMDeleted
	}
	p.answerLocked(d.RequestID, d.ReplyTo, compute.VMDeleted{RequestID: d.RequestID, PoolID: d.PoolID, NodeID: d.NodeID})
}

func (p *Provider) list(l compute.ListVMs) {
	p.mu.Lock()
	defer p.mu.Unlock()
	vms := []compute.VM{}
	for _, m := range p.machines {
		if m.NodeID != "" && (l.PoolID == "" || m.PoolID == l.PoolID) {
			vms = append(vms, compute.VM{PoolID: m.PoolID, NodeID: m.NodeID, Dedicated: m.Dedicated})
		}
	}
	for _, w := range p.waiting {
		if l.PoolID == "" || w.PoolID == l.PoolID {
			vms = append(vms, compute.VM{PoolID: w.PoolID, NodeID: w.NodeID, Dedicated: w.Dedicated})
		}
	}
	sort.Slice(vms, func(i, j int) bool { return key(vms[i].PoolID, vms[i].NodeID) < key(vms[j].PoolID, vms[j].NodeID) })
	p.send(l.ReplyTo, compute.VMList{RequestID: l.RequestID, PoolID: l.PoolID, Nodes: vms})
}
