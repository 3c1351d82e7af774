package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"corral/batch"
)

var poolJoinTokenSpec = verbSpec{
	name:     "pool join-token",
	synopsis: "POOL [--ttl DUR] | POOL --list | POOL --revoke ID",
	summary:  "Make a token with which a machine joins a pool (with `corral server --provider static`).",
	help: `Prints a join token. On the machine to add, run the agent as root with it:

    CORRAL_JOIN_TOKEN=<token> corral agent --server <server URL> --root /var/lib/corral

The agent exchanges the token for a credential of its own (kept in the root directory, 0600)
and waits until the pool is lent it as a node; the account key never leaves the server. The
token carries the fingerprint of the server's CA, so the agent trusts the server on first
contact. Tokens can be used by many machines until they expire (--ttl, default 1h, at most
7 days) or are revoked (--revoke ID; --list shows them). Revoking a token does not remove the
machines that joined with it: see corral pool machines.`,
}

// poolJoinTokenOptions are the options of `corral pool join-token`.
type poolJoinTokenOptions struct {
	Conn   connOptions
	PoolID string
	TTL    time.Duration
	List   bool
	Revoke string
}

func parsePoolJoinToken(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolJoinTokenOptions, error) {
	o := &poolJoinTokenOptions{}
	o.Conn.register(fs)
	fs.DurationVar(&o.TTL, "ttl", time.Hour, "how long the token lasts (at most 168h)")
	fs.BoolVar(&o.List, "list", false, "list the pool's tokens instead")
	fs.StringVar(&o.Revoke, "revoke", "", "revoke the token with this id instead")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.PoolID, err = poolIDArg(pos); err != nil {
		return nil, err
	}
	if o.TTL < time.Second || o.TTL > 7*24*time.Hour {
		return nil, usagef("--ttl %v: want 1s to 168h", o.TTL)
	}
	if o.List && o.Revoke != "" {
		return nil, usagef("--list and --revoke: give one")
	}
	return o, o.Conn.resolve(getenv)
}

// joinToken is the REST extension's JoinToken.
type joinToken struct {
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	NodeID  string    `json:"nodeId"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Revoked bool      `json:"revoked"`
	Uses    int       `json:"uses"`
}

func poolJoinTokenRun(ctx context.Context, o *poolJoinTokenOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	path := "/pools/" + o.PoolID + "/jointokens"
	switch {
	case o.List:
		var list struct{ Value []joinToken }
		if err := c.get(ctx, path, &list); err != nil {
			return joinError(o.PoolID, err)
		}
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEXPIRES\tSTATE\tUSES\tNODE")
		for _, t := range list.Value {
			state := "valid"
			switch {
			case t.Revoked:
				state = "revoked"
			case !time.Now().Before(t.Expires):
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t.ID, t.Expires.Local().Format(time.DateTime), state, t.Uses, t.NodeID)
		}
		return tw.Flush()
	case o.Revoke != "":
		if err := c.do(ctx, http.MethodDelete, path+"/"+o.Revoke, nil, nil); err != nil {
			if errCode(err) == "JoinTokenNotFound" {
				return fmt.Errorf("pool %s has no join token %s (see them with: corral pool join-token %s --list)", o.PoolID, o.Revoke, o.PoolID)
			}
			return joinError(o.PoolID, err)
		}
		fmt.Fprintf(s.Out, "revoked join token %s of pool %s\n", o.Revoke, o.PoolID)
		return nil
	}
	var t joinToken
	body := map[string]string{"lifetime": batch.FormatDuration(o.TTL)}
	if err := c.do(ctx, http.MethodPost, path, body, &t); err != nil {
		return joinError(o.PoolID, err)
	}
	fmt.Fprintln(s.Out, t.Token)
	fmt.Fprintf(s.Err, "join token %s of pool %s, valid until %s; on the machine, as root:\n  CORRAL_JOIN_TOKEN=%s corral agent --server %s --root /var/lib/corral\n",
		t.ID, o.PoolID, t.Expires.Local().Format(time.DateTime), "<token>", c.base)
	return nil
}

// joinError says what an error of the join extensions means.
func joinError(poolID string, err error) error {
	switch errCode(err) {
	case "NotImplemented":
		return fmt.Errorf("this server's nodes are made by its provider: machines join pools only with `corral server --provider static`")
	case "PoolNotFound":
		return fmt.Errorf("pool %s does not exist (see the pools with: corral pool list)", poolID)
	}
	return err
}

var poolMachinesSpec = verbSpec{
	name:     "pool machines",
	synopsis: "POOL [--forget MACHINE]",
	summary:  "List the machines that joined a pool, and the node each is lent to.",
	help: `With --forget, removes a machine from the pool: its credential is refused from then on, and
the node it was lent to is lost (its tasks are requeued). Its agent exits.`,
}

// poolMachinesOptions are the options of `corral pool machines`.
type poolMachinesOptions struct {
	Conn   connOptions
	PoolID string
	Forget string
}

func parsePoolMachines(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolMachinesOptions, error) {
	o := &poolMachinesOptions{}
	o.Conn.register(fs)
	fs.StringVar(&o.Forget, "forget", "", "remove this machine from the pool instead")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.PoolID, err = poolIDArg(pos); err != nil {
		return nil, err
	}
	return o, o.Conn.resolve(getenv)
}

func poolMachinesRun(ctx context.Context, o *poolMachinesOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	path := "/pools/" + o.PoolID + "/machines"
	if o.Forget != "" {
		if err := c.do(ctx, http.MethodDelete, path+"/"+o.Forget, nil, nil); err != nil {
			if errCode(err) == "MachineNotFound" {
				return fmt.Errorf("pool %s has no machine %s (see them with: corral pool machines %s)", o.PoolID, o.Forget, o.PoolID)
			}
			return joinError(o.PoolID, err)
		}
		fmt.Fprintf(s.Out, "removed machine %s from pool %s\n", o.Forget, o.PoolID)
		return nil
	}
	var list struct {
		Value []struct {
			ID       string    `json:"id"`
			Hostname string    `json:"hostname"`
			Joined   time.Time `json:"joined"`
			NodeID   string    `json:"nodeId"`
		}
	}
	if err := c.get(ctx, path, &list); err != nil {
		return joinError(o.PoolID, err)
	}
	if len(list.Value) == 0 {
		fmt.Fprintf(s.Err, "no machine has joined pool %s (make a token with: corral pool join-token %s)\n", o.PoolID, o.PoolID)
		return nil
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MACHINE\tHOSTNAME\tJOINED\tNODE")
	for _, m := range list.Value {
		node := m.NodeID
		if node == "" {
			node = "(free)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.Hostname, m.Joined.Local().Format(time.DateTime), node)
	}
	return tw.Flush()
}
