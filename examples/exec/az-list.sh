#!/bin/sh
# az-list.sh: Corral's exec provider's list program for nodes as Azure VMs (see az-create.sh).
# It prints a line for each VM of the resource group tagged with a node: running while the VM
# is not stopped or deallocated; a stopped or deallocated Spot VM is preempted (Azure
# deallocates Spot VMs when it takes the capacity back), any other one lost. The vmId is the
# handle. UNTESTED in Corral's CI: a starting point to adapt and try.
set -eu
: "${CORRAL_AZ_RESOURCE_GROUP:?set CORRAL_AZ_RESOURCE_GROUP}"
vms=$(az vm list --show-details --resource-group "$CORRAL_AZ_RESOURCE_GROUP" --only-show-errors \
	--query "[?tags.corralPool != null].[tags.corralPool, tags.corralNode, tags.corralPriority, powerState, vmId]" \
	--output tsv)
printf '%s\n' "$vms" | awk -F '\t' 'NF >= 5 {
	state = "running"
	if ($4 == "VM deallocated" || $4 == "VM deallocating" || $4 == "VM stopped" || $4 == "VM stopping")
		state = ($3 == "lowpriority") ? "preempted" : "lost"
	print $1, $2, $3, state, $5
}'
