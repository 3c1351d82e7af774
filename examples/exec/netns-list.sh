#!/bin/sh
# netns-list.sh: Corral's exec provider's list program for nodes as network namespaces on this
# machine (see netns-common.sh and README.md). It prints one line for each node that
# netns-create.sh made: "<pool> <node> <priority> running <namespace>" while a process runs in
# its namespace, "... lost <namespace>" once none does (the agent exited) or the namespace is
# gone. As root.
set -eu
. "$(dirname "$0")/netns-common.sh"

[ -d "$state/nodes" ] || exit 0
for dir in "$state"/nodes/*/; do
	[ -d "$dir" ] || continue
	ns=$(basename "$dir")
	if [ ! -s "$dir/pool" ] || [ ! -s "$dir/node" ]; then
		continue
	fi
	pool=$(cat "$dir/pool")
	node=$(cat "$dir/node")
	priority=$(cat "$dir/priority" 2>/dev/null || echo dedicated)
	if [ -n "$(ns_pids "$ns")" ]; then
		echo "$pool $node $priority running $ns"
	else
		echo "$pool $node $priority lost $ns"
	fi
done
