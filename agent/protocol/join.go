package protocol

import (
	"errors"
	"strings"
)

// Joining: an agent on a machine that has no credential yet POSTs a JoinRequest to JoinPath
// with a join token, and gets back the credential of the node it is to be (JoinResponse). The
// join token carries the fingerprint of the server's CA certificate, so that the agent can
// check, on that first connection, that it talks to the right server (see ParseJoinToken).

// JoinPath is the path of the join endpoint on the server.
const JoinPath = "/corral/agent/v1/join"

// joinTokenPrefix starts every join token's text; it names the format's version.
const joinTokenPrefix = "corral1"

// JoinRequest is the body of a join request.
type JoinRequest struct {
	// Token is the join token's text.
	Token string `json:"token"`
	// Hostname is the machine's name, for the server's log and node listing.
	Hostname string `json:"hostname,omitempty"`
}

// JoinResponse is the server's answer to a JoinRequest: the node the agent now is, and its
// credential (AuthorizationHeader), which the agent keeps in a file only it can read.
type JoinResponse struct {
	PoolID     string `json:"poolId"`
	NodeID     string `json:"nodeId"`
	Credential string `json:"credential"`
	// CACert is the server's CA certificate (PEM), for the agent's later connections; empty
	// when the server does not serve TLS.
	CACert string `json:"caCert,omitempty"`
}

// FormatJoinToken returns a join token's text:
//
//	corral1.<id>.<secret>[.<caFingerprint>]
//
// id and secret must not contain '.'; caFingerprint ("sha256:<hex>") is left out when the server
// has no CA (it serves plain HTTP on loopback).
func FormatJoinToken(id, secret, caFingerprint string) string {
	s := joinTokenPrefix + "." + id + "." + secret
	if caFingerprint != "" {
		s += "." + caFingerprint
	}
	return s
}

// ParseJoinToken splits a join token's text made by FormatJoinToken. It checks the form, not
// the secret.
func ParseJoinToken(s string) (id, secret, caFingerprint string, err error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 3 || len(parts) > 4 || parts[0] != joinTokenPrefix || parts[1] == "" || parts[2] == "" {
		return "", "", "", errors.New("protocol: a join token is corral1.<id>.<secret>[.sha256:<hex>]")
	}
	if len(parts) == 4 {
		caFingerprint = parts[3]
		if !strings.HasPrefix(caFingerprint, "sha256:") || len(caFingerprint) != len("sha256:")+64 {
			return "", "", "", errors.New("protocol: a join token's CA fingerprint is sha256:<64 hex digits>")
		}
	}
	return parts[1], parts[2], caFingerprint, nil
}
