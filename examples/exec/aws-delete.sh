#!/bin/sh
# aws-delete.sh: Corral's exec provider's delete program for nodes as EC2 instances (see
# aws-create.sh). It terminates every instance tagged with the node that is not terminated yet,
# and the one its handle names. A node without an instance is deleted already. UNTESTED in
# Corral's CI: a starting point to adapt and try.
set -eu
ids=$(aws ec2 describe-instances \
	--filters "Name=tag:corral-pool,Values=$CORRAL_POOL_ID" "Name=tag:corral-node,Values=$CORRAL_NODE_ID" \
	"Name=instance-state-name,Values=pending,running,stopping,stopped" \
	--query 'Reservations[].Instances[].InstanceId' --output text)
case ${CORRAL_NODE_HANDLE:-} in
i-*) ids="$ids $CORRAL_NODE_HANDLE" ;;
esac
# shellcheck disable=SC2086 # one line per instance id
ids=$(printf '%s\n' $ids | sort -u | tr '\n' ' ')
if [ -z "${ids% }" ]; then
	exit 0
fi
# shellcheck disable=SC2086 # one argument per instance id
if ! out=$(aws ec2 terminate-instances --instance-ids $ids --output text 2>&1); then
	case $out in
	*InvalidInstanceID.NotFound*) exit 0 ;;
	esac
	echo "$out" >&2
	exit 1
fi
