#!/bin/sh
# az-create.sh: Corral's exec provider's create program for nodes as Azure VMs, with the az CLI.
# UNTESTED in Corral's CI (it has no Azure subscription): a starting point to adapt and try.
#
# It creates the VM corral-<hash of pool and node> in CORRAL_AZ_RESOURCE_GROUP, tagged with the
# node (corralPool, corralNode, corralPriority), without a public IP: the VM must reach
# CORRAL_SERVER_URL from its subnet. A low-priority node is a Spot VM that Azure deallocates when
# it takes the capacity back (az-list.sh then reports it preempted). The VM's cloud-init (see
# cloud-init.sh) installs corral and starts the agent with the node's join token. It prints the
# VM's vmId, the node's handle.
#
# Settings (pass them with `corral server --exec-pass-env`, with the az CLI's own login, such as
# AZURE_CONFIG_DIR):
#   CORRAL_AZ_RESOURCE_GROUP  required   the resource group of the VMs
#   CORRAL_AZ_IMAGE           Ubuntu2204 the image
#   CORRAL_AZ_SIZE            Standard_D2s_v3, the size when the pool's vmSize is not an Azure size
#   CORRAL_AZ_SUBNET_ID       optional   the resource id of the VMs' subnet
#   CORRAL_AZ_LOCATION        optional   the VMs' region (default: the resource group's)
#   CORRAL_AZ_ADMIN_USER      corral     the VMs' admin user
#   CORRAL_AZ_SSH_KEY         optional   a public key file for that user (else az generates one)
#   CORRAL_BIN_URL, CORRAL_BIN_SHA256    where the VMs download corral (see cloud-init.sh)
set -eu
: "${CORRAL_AZ_RESOURCE_GROUP:?set CORRAL_AZ_RESOURCE_GROUP}"
name="corral-$(printf '%s/%s' "$CORRAL_POOL_ID" "$CORRAL_NODE_ID" | sha1sum | cut -c1-16)"
case $CORRAL_VM_SIZE in
Standard_* | standard_* | Basic_* | basic_*) size=$CORRAL_VM_SIZE ;;
*) size=${CORRAL_AZ_SIZE:-Standard_D2s_v3} ;;
esac

userdata=$(mktemp)
trap 'rm -f "$userdata"' EXIT
"$(dirname "$0")/cloud-init.sh" >"$userdata"

set -- --resource-group "$CORRAL_AZ_RESOURCE_GROUP" --name "$name" --size "$size" \
	--image "${CORRAL_AZ_IMAGE:-Ubuntu2204}" --admin-username "${CORRAL_AZ_ADMIN_USER:-corral}" \
	--custom-data "$userdata" --public-ip-address "" --nsg "" \
	--os-disk-name "$name-osdisk" --os-disk-delete-option Delete --nic-delete-option Delete \
	--tags "corralPool=$CORRAL_POOL_ID" "corralNode=$CORRAL_NODE_ID" "corralPriority=$CORRAL_PRIORITY" \
	--only-show-errors --output none
if [ -n "${CORRAL_AZ_SSH_KEY:-}" ]; then
	set -- "$@" --ssh-key-values "$CORRAL_AZ_SSH_KEY"
else
	set -- "$@" --generate-ssh-keys
fi
if [ -n "${CORRAL_AZ_SUBNET_ID:-}" ]; then
	set -- "$@" --subnet "$CORRAL_AZ_SUBNET_ID"
fi
if [ -n "${CORRAL_AZ_LOCATION:-}" ]; then
	set -- "$@" --location "$CORRAL_AZ_LOCATION"
fi
if [ "$CORRAL_PRIORITY" = lowpriority ]; then
	set -- "$@" --priority Spot --eviction-policy Deallocate --max-price -1
fi

az vm create "$@"
az vm show --resource-group "$CORRAL_AZ_RESOURCE_GROUP" --name "$name" --query vmId --output tsv
