#!/bin/sh
# aws-create.sh: Corral's exec provider's create program for nodes as EC2 instances, with the
# aws CLI. UNTESTED in Corral's CI (it has no AWS account): a starting point to adapt and try.
#
# It launches one instance tagged with the node (corral-pool, corral-node, corral-priority) and
# waits until it runs. A low-priority node is a Spot instance that EC2 terminates when it takes
# the capacity back (aws-list.sh then reports it preempted). The request id makes the launch
# idempotent (the client token): a create program run again for the same request launches
# nothing more. The instance's cloud-init (see cloud-init.sh) installs corral and starts the
# agent with the node's join token. It prints the instance id, the node's handle.
#
# Settings (pass them with `corral server --exec-pass-env`, with the aws CLI's own, such as
# AWS_PROFILE and AWS_REGION):
#   CORRAL_AWS_AMI              required   the image (one with cloud-init and systemd)
#   CORRAL_AWS_INSTANCE_TYPE    t3.medium  the type when the pool's vmSize is not an EC2 type
#   CORRAL_AWS_SUBNET           optional   the subnet; instances must reach CORRAL_SERVER_URL
#   CORRAL_AWS_SECURITY_GROUPS  optional   security group ids, separated by spaces
#   CORRAL_AWS_KEY_NAME         optional   an EC2 key pair for SSH
#   CORRAL_AWS_PROFILE_NAME     optional   an IAM instance profile
#   CORRAL_BIN_URL, CORRAL_BIN_SHA256      where the instances download corral (see cloud-init.sh)
set -eu
: "${CORRAL_AWS_AMI:?set CORRAL_AWS_AMI}"
if printf '%s' "$CORRAL_VM_SIZE" | grep -Eq '^[a-z][a-z0-9-]*\.[a-z0-9]+$'; then
	type=$CORRAL_VM_SIZE
else
	type=${CORRAL_AWS_INSTANCE_TYPE:-t3.medium}
fi
token=$(printf '%s' "$CORRAL_REQUEST_ID" | sha256sum | cut -c1-32)

userdata=$(mktemp)
trap 'rm -f "$userdata"' EXIT
"$(dirname "$0")/cloud-init.sh" >"$userdata"

tags="{Key=corral-pool,Value=$CORRAL_POOL_ID},{Key=corral-node,Value=$CORRAL_NODE_ID},{Key=corral-priority,Value=$CORRAL_PRIORITY}"
set -- --image-id "$CORRAL_AWS_AMI" --instance-type "$type" --count 1 --client-token "$token" \
	--user-data "file://$userdata" \
	--tag-specifications "ResourceType=instance,Tags=[$tags,{Key=Name,Value=corral-$CORRAL_POOL_ID-$CORRAL_NODE_ID}]" \
	--query 'Instances[0].InstanceId' --output text
if [ -n "${CORRAL_AWS_SUBNET:-}" ]; then
	set -- "$@" --subnet-id "$CORRAL_AWS_SUBNET"
fi
if [ -n "${CORRAL_AWS_SECURITY_GROUPS:-}" ]; then
	# shellcheck disable=SC2086 # one argument per group id
	set -- "$@" --security-group-ids $CORRAL_AWS_SECURITY_GROUPS
fi
if [ -n "${CORRAL_AWS_KEY_NAME:-}" ]; then
	set -- "$@" --key-name "$CORRAL_AWS_KEY_NAME"
fi
if [ -n "${CORRAL_AWS_PROFILE_NAME:-}" ]; then
	set -- "$@" --iam-instance-profile "Name=$CORRAL_AWS_PROFILE_NAME"
fi
if [ "$CORRAL_PRIORITY" = lowpriority ]; then
	set -- "$@" --instance-market-options \
		'MarketType=spot,SpotOptions={SpotInstanceType=one-time,InstanceInterruptionBehavior=terminate}'
fi

id=$(aws ec2 run-instances "$@")
aws ec2 wait instance-running --instance-ids "$id"
echo "$id"
