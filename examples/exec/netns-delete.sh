#!/bin/sh
# netns-delete.sh: Corral's exec provider's delete program for nodes as network namespaces on
# this machine (see netns-common.sh and README.md). It ends every process in the node's
# namespace (SIGTERM, then SIGKILL), deletes the namespace and the veth pair, frees the node's
# address and removes its agent directory. A node that does not exist is deleted already. As
# root.
set -eu
. "$(dirname "$0")/netns-common.sh"

node_names

# Every process in the namespace: the agent and its tasks, whatever sessions they made.
tries=0
while pids=$(ns_pids "$ns") && [ -n "$pids" ]; do
	tries=$((tries + 1))
	if [ $tries -le 20 ]; then sig=TERM; else sig=KILL; fi
	[ $tries -le 100 ] || die "processes in $ns do not end: $pids"
	# shellcheck disable=SC2086
	kill -s $sig $pids 2>/dev/null || true
	sleep 0.1
done

if ip link show "$veth" >/dev/null 2>&1; then
	ip link del "$veth"
fi
if ns_exists "$ns"; then
	ip netns del "$ns"
fi
if [ -s "$nodestate/address" ]; then
	addr=$(cat "$nodestate/address")
	rm -rf "${state:?}/addresses/$addr"
fi
rm -rf "$nodestate" "$noderoot"
rmdir "$root/$CORRAL_POOL_ID" 2>/dev/null || true
