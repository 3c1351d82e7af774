#!/bin/sh
# cloud-init.sh: prints the cloud-init user data that az-create.sh and aws-create.sh give a new
# machine. It downloads the corral binary from CORRAL_BIN_URL (and checks it against
# CORRAL_BIN_SHA256 if set), writes the server's URL and the node's join token to
# /etc/corral/agent.env (mode 0600), and runs `corral agent` as the systemd service
# corral-agent, which finds the token in CORRAL_JOIN_TOKEN and trusts the server by the CA
# fingerprint in it.
# UNTESTED in Corral's CI, as the cloud programs that use it are: see README.md.
set -eu
: "${CORRAL_BIN_URL:?set CORRAL_BIN_URL to where machines download the corral binary}"
: "${CORRAL_SERVER_URL:?}"
: "${CORRAL_JOIN_TOKEN:?}"

cat <<EOF
#cloud-config
write_files:
  - path: /etc/corral/agent.env
    permissions: "0600"
    content: |
      CORRAL_SERVER_URL=$CORRAL_SERVER_URL
      CORRAL_JOIN_TOKEN=$CORRAL_JOIN_TOKEN
  - path: /etc/systemd/system/corral-agent.service
    content: |
      [Unit]
      Description=Corral node agent
      Wants=network-online.target
      After=network-online.target
      [Service]
      EnvironmentFile=/etc/corral/agent.env
      ExecStart=/usr/local/bin/corral agent --server \${CORRAL_SERVER_URL} --root /var/lib/corral
      Restart=on-failure
      RestartSec=5
      [Install]
      WantedBy=multi-user.target
runcmd:
  - [curl, -fsSL, --retry, "5", -o, /usr/local/bin/corral, "$CORRAL_BIN_URL"]
EOF
if [ -n "${CORRAL_BIN_SHA256:-}" ]; then
	echo "  - [sh, -c, 'echo \"$CORRAL_BIN_SHA256  /usr/local/bin/corral\" | sha256sum -c']"
fi
cat <<'EOF'
  - [chmod, "755", /usr/local/bin/corral]
  - [systemctl, daemon-reload]
  - [systemctl, enable, --now, corral-agent.service]
EOF
