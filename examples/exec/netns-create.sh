#!/bin/sh
# netns-create.sh: Corral's exec provider's create program for nodes as network namespaces on
# this machine (see netns-common.sh and README.md). It makes the bridge if it is missing, the
# node's namespace, a veth pair onto the bridge with the node's address, and starts
# `corral agent` in the namespace, in a session of its own, with the node's join token. It
# prints the namespace's name, the node's handle. Running it again for a node that exists
# changes nothing. As root.
set -eu
. "$(dirname "$0")/netns-common.sh"

node_names
[ -n "${CORRAL_SERVER_URL:-}" ] || die "CORRAL_SERVER_URL is empty"
[ -n "${CORRAL_JOIN_TOKEN:-}" ] || die "CORRAL_JOIN_TOKEN is empty"
bin=$(command -v "${CORRAL_BIN:-corral}") || die "no corral binary: set CORRAL_BIN"
subnet_parts

mkdir -p "$state/addresses" "$state/nodes"
chmod 700 "$state"

# The network, under a lock: creations of several nodes run at once.
exec 9>"$state/lock"
flock 9
if ! ip link show "$bridge" >/dev/null 2>&1; then
	ip link add "$bridge" type bridge
fi
if ! ip -4 -o addr show dev "$bridge" | grep -qF " $gw/$len "; then
	ip addr add "$gw/$len" dev "$bridge"
fi
ip link set "$bridge" up

mkdir -p "$nodestate"
echo "$CORRAL_POOL_ID" >"$nodestate/pool"
echo "$CORRAL_NODE_ID" >"$nodestate/node"
echo "${CORRAL_PRIORITY:-dedicated}" >"$nodestate/priority"

# The node's address: the one it has, or the first free one (each taken address is a directory
# in $state/addresses, made atomically).
if [ -s "$nodestate/address" ]; then
	addr=$(cat "$nodestate/address")
else
	addr=
	n=$((net + 2))
	while [ $n -lt $((net + size - 1)) ]; do
		if mkdir "$state/addresses/$(int2ip $n)" 2>/dev/null; then
			addr=$(int2ip $n)
			echo "$ns" >"$state/addresses/$addr/node"
			break
		fi
		n=$((n + 1))
	done
	[ -n "$addr" ] || die "no free address left in $subnet"
	echo "$addr" >"$nodestate/address"
fi

if ! ns_exists "$ns"; then
	ip netns add "$ns"
fi
if ! ip link show "$veth" >/dev/null 2>&1; then
	ip link add "$veth" type veth peer name eth0 netns "$ns"
fi
ip link set "$veth" master "$bridge" up
ip -n "$ns" link set lo up
ip -n "$ns" addr replace "$addr/$len" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" route replace default via "$gw"
flock -u 9

# The agent, unless it runs already. It gets a session of its own, so that it outlives this
# program, and writes its log in its directory. It finds the join token in CORRAL_JOIN_TOKEN
# (a command line is visible to other users of this machine), trusts the server by the CA
# fingerprint in it, and keeps the credential it gets in its directory.
if [ -z "$(ns_pids "$ns")" ]; then
	mkdir -p "$noderoot"
	chmod 700 "$noderoot"
	ip netns exec "$ns" setsid "$bin" agent --server "$CORRAL_SERVER_URL" --root "$noderoot" --heartbeat "$heartbeat" \
		</dev/null >>"$noderoot/agent.log" 2>&1 &
	# A moment for it to fail at once (a wrong binary, a bad flag).
	sleep 1
	if [ -z "$(ns_pids "$ns")" ]; then
		echo "corral agent exited at once; the end of $noderoot/agent.log:" >&2
		tail -n 5 "$noderoot/agent.log" >&2 || true
		exit 1
	fi
fi
echo "$ns"
