#!/bin/sh
# aws-list.sh: Corral's exec provider's list program for nodes as EC2 instances (see
# aws-create.sh). It prints a line for each instance tagged with a node: running while it is
# pending or running; preempted once EC2 has terminated it to take the Spot capacity back; lost
# if it stopped. Instances terminated otherwise (deleted) are left out. The instance id is the
# handle. UNTESTED in Corral's CI: a starting point to adapt and try.
set -eu
# shellcheck disable=SC2016 # the backquotes are JMESPath's
instances=$(aws ec2 describe-instances --filters "Name=tag-key,Values=corral-pool" \
	--query 'Reservations[].Instances[].[Tags[?Key==`corral-pool`]|[0].Value, Tags[?Key==`corral-node`]|[0].Value, Tags[?Key==`corral-priority`]|[0].Value, State.Name, StateReason.Code, InstanceId]' \
	--output text)
printf '%s\n' "$instances" | awk -F '\t' 'NF >= 6 {
	state = ""
	if ($4 == "pending" || $4 == "running") state = "running"
	else if ($5 == "Server.SpotInstanceTermination") state = "preempted"
	else if ($4 == "stopping" || $4 == "stopped") state = "lost"
	if (state != "") print $1, $2, $3, state, $6
}'
