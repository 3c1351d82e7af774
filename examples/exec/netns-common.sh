# netns-common.sh: what netns-create.sh, netns-delete.sh and netns-list.sh share. It is sourced,
# not run. The three make each Corral node a Linux network namespace on this machine, with a
# veth pair onto a bridge and an address of its own, in which `corral agent` runs: nodes that
# reach the server over a network, as machines elsewhere would, without any cloud. They must run
# as root.
#
# Settings (pass them with `corral server --exec-pass-env`), with their defaults:
#   CORRAL_NETNS_BRIDGE  corralbr0               the bridge the nodes are on
#   CORRAL_NETNS_SUBNET  10.77.0.0/16            its subnet: the bridge gets the first address,
#                                                nodes the next free ones
#   CORRAL_NETNS_STATE   /run/corral-netns       the nodes' records (gone at reboot, as the
#                                                namespaces are)
#   CORRAL_NETNS_ROOT    /var/lib/corral-netns   the nodes' agent directories: <root>/<pool>/<node>
#   CORRAL_BIN           corral (from PATH)      the corral binary that the nodes run
#   CORRAL_HEARTBEAT     5s                      how often the nodes' agents report (corral agent
#                                                --heartbeat): keep it well under the server's
#                                                --node-lost-after

# The names set here are used by the scripts that source this file.
# shellcheck disable=SC2034

bridge=${CORRAL_NETNS_BRIDGE:-corralbr0}
subnet=${CORRAL_NETNS_SUBNET:-10.77.0.0/16}
state=${CORRAL_NETNS_STATE:-/run/corral-netns}
root=${CORRAL_NETNS_ROOT:-/var/lib/corral-netns}
heartbeat=${CORRAL_HEARTBEAT:-5s}

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# valid_id ID: Corral's pool and node ids are 1 to 255 of A-Z a-z 0-9 _ -.
valid_id() {
	case $1 in
	'' | *[!A-Za-z0-9_-]*) return 1 ;;
	esac
	[ ${#1} -le 255 ]
}

# node_names: the names of the node CORRAL_POOL_ID/CORRAL_NODE_ID. The namespace is
# corral-<pool>.<node> (ids have no dot, so no two nodes share a name); the host's end of the
# veth pair is named from a hash, as interface names have at most 15 characters.
node_names() {
	valid_id "${CORRAL_POOL_ID:-}" || die "CORRAL_POOL_ID '${CORRAL_POOL_ID:-}' is not a pool id"
	valid_id "${CORRAL_NODE_ID:-}" || die "CORRAL_NODE_ID '${CORRAL_NODE_ID:-}' is not a node id"
	ns="corral-$CORRAL_POOL_ID.$CORRAL_NODE_ID"
	[ ${#ns} -le 255 ] || die "namespace name too long: $ns"
	veth="cv$(printf '%s' "$ns" | sha1sum | cut -c1-12)"
	nodestate="$state/nodes/$ns"
	noderoot="$root/$CORRAL_POOL_ID/$CORRAL_NODE_ID"
}

# ns_exists NS: whether network namespace NS exists.
ns_exists() {
	ip netns list | awk '{print $1}' | grep -qxF "$1"
}

# ns_pids NS: the processes in namespace NS, if it exists.
ns_pids() {
	if ns_exists "$1"; then ip netns pids "$1"; fi
}

# ip2int A.B.C.D and int2ip N convert IPv4 addresses.
ip2int() {
	old_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086
	set -- $1
	IFS=$old_ifs
	echo $((($1 << 24) + ($2 << 16) + ($3 << 8) + $4))
}
int2ip() {
	echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"
}

# subnet_parts: the subnet's prefix length (len), network (net, an integer), size, and the
# bridge's address (gw).
subnet_parts() {
	len=${subnet#*/}
	case $len in '' | *[!0-9]*) die "CORRAL_NETNS_SUBNET '$subnet' is not A.B.C.D/LEN" ;; esac
	if [ "$len" -lt 8 ] || [ "$len" -gt 30 ]; then
		die "CORRAL_NETNS_SUBNET '$subnet': want a prefix from /8 to /30"
	fi
	size=$((1 << (32 - len)))
	net=$(($(ip2int "${subnet%/*}") & ~(size - 1) & 0xffffffff))
	gw=$(int2ip $((net + 1)))
}
