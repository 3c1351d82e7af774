#!/bin/sh
# az-delete.sh: Corral's exec provider's delete program for nodes as Azure VMs (see
# az-create.sh). It deletes the node's VM, with its OS disk and NIC, and the disk and NIC that a
# creation stopped before the VM existed may have left. A node without a VM is deleted already.
# UNTESTED in Corral's CI: a starting point to adapt and try.
set -eu
: "${CORRAL_AZ_RESOURCE_GROUP:?set CORRAL_AZ_RESOURCE_GROUP}"
name="corral-$(printf '%s/%s' "$CORRAL_POOL_ID" "$CORRAL_NODE_ID" | sha1sum | cut -c1-16)"
rg=$CORRAL_AZ_RESOURCE_GROUP

# gone COMMAND...: runs an az delete command; a resource that is not there is gone already.
gone() {
	if ! out=$("$@" --only-show-errors 2>&1); then
		case $out in
		*ResourceNotFound* | *NotFound* | *"was not found"*) return 0 ;;
		esac
		echo "$out" >&2
		return 1
	fi
}

gone az vm delete --resource-group "$rg" --name "$name" --yes
gone az network nic delete --resource-group "$rg" --name "${name}VMNic"
gone az disk delete --resource-group "$rg" --name "$name-osdisk" --yes
