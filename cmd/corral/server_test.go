package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"corral/server"
)

func TestParseServer(t *testing.T) {
	env := map[string]string{"CORRAL_DATA": "/d"}
	defaults := serverOptions{Listen: server.DefaultListen, Data: "/d", Provider: server.ProviderLocal, NodeLostAfter: time.Minute, ReadLimit: server.DefaultReadLimit}
	with := func(edit func(*serverOptions)) *serverOptions {
		o := defaults
		edit(&o)
		return &o
	}
	tests := []struct {
		name string
		args []string
		want *serverOptions
		err  string // as in checkParsed
	}{
		{name: "defaults", want: &defaults},
		{name: "listen and data", args: []string{"--listen", "127.0.0.2:9000", "--data", "/x"},
			want: with(func(o *serverOptions) { o.Listen, o.Data = "127.0.0.2:9000", "/x" })},

		// transport
		{name: "every address: TLS", args: []string{"--listen", ":9000"},
			want: with(func(o *serverOptions) { o.Listen, o.ServesTLS = ":9000", true })},
		{name: "0.0.0.0: TLS", args: []string{"--listen", "0.0.0.0:9000"},
			want: with(func(o *serverOptions) { o.Listen, o.ServesTLS = "0.0.0.0:9000", true })},
		{name: "a host name: TLS", args: []string{"--listen", "batch.example:9000"},
			want: with(func(o *serverOptions) { o.Listen, o.ServesTLS = "batch.example:9000", true })},
		{name: "localhost: plain", args: []string{"--listen", "localhost:9000"},
			want: with(func(o *serverOptions) { o.Listen = "localhost:9000" })},
		{name: "::1: plain", args: []string{"--listen", "[::1]:9000"},
			want: with(func(o *serverOptions) { o.Listen = "[::1]:9000" })},
		{name: "--tls on loopback", args: []string{"--tls"}, want: with(func(o *serverOptions) { o.TLS, o.ServesTLS = true, true })},
		{name: "--tls-name asks for TLS, repeatable and comma lists", args: []string{"--tls-name", "a.example,10.0.0.1", "--tls-name=b.example"},
			want: with(func(o *serverOptions) {
				o.TLSNames, o.ServesTLS = namesFlag{"a.example", "10.0.0.1", "b.example"}, true
			})},
		{name: "operator's certificate", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"},
			want: with(func(o *serverOptions) { o.TLSCert, o.TLSKey, o.ServesTLS = "c.pem", "k.pem", true })},
		{name: "--plain-http on loopback", args: []string{"--plain-http"}, want: with(func(o *serverOptions) { o.PlainHTTP = true })},
		{name: "--plain-http elsewhere refused", args: []string{"--listen", ":9000", "--plain-http"},
			err: "usage: --plain-http on :9000: Corral serves plain HTTP only on a loopback address"},
		{name: "--plain-http elsewhere allowed explicitly", args: []string{"--listen", "10.0.0.1:9000", "--plain-http", "--insecure-allow-plain-http"},
			want: with(func(o *serverOptions) { o.Listen, o.PlainHTTP, o.InsecurePlainHTTP = "10.0.0.1:9000", true, true })},
		{name: "insecure alone", args: []string{"--listen", ":9000", "--insecure-allow-plain-http"}, err: "usage: --insecure-allow-plain-http only qualifies --plain-http"},
		{name: "certificate without key", args: []string{"--tls-cert", "c.pem"}, err: "usage: --tls-cert and --tls-key go together"},
		{name: "key without certificate", args: []string{"--tls-key", "k.pem"}, err: "usage: --tls-cert and --tls-key go together"},
		{name: "plain and TLS", args: []string{"--plain-http", "--tls"}, err: "usage: --plain-http and TLS"},
		{name: "plain and names", args: []string{"--plain-http", "--tls-name", "a.example"}, err: "usage: --plain-http and TLS"},
		{name: "names with a certificate", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-name", "a.example"},
			err: "usage: --tls-name names the certificate the server makes"},
		{name: "empty name", args: []string{"--tls-name", "a.example,"}, err: `usage: invalid value "a.example," for flag -tls-name: "" is neither`},
		{name: "bad name", args: []string{"--tls-name", "a b"}, err: `"a b" is neither a DNS name nor an IP address`},

		{name: "development flags", args: []string{"--autoscale-min-interval", "2s", "--provision-delay=1.5s", "--failure-rate", "0.25"},
			want: with(func(o *serverOptions) {
				o.AutoScaleMinInterval, o.ProvisionDelay, o.FailureRate = 2*time.Second, 1500*time.Millisecond, 0.25
			})},
		{name: "read limit", args: []string{"--read-limit", "4"}, want: with(func(o *serverOptions) { o.ReadLimit = 4 })},
		{name: "no read limit", args: []string{"--read-limit=-1"}, want: with(func(o *serverOptions) { o.ReadLimit = -1 })},
		{name: "read limit 0", args: []string{"--read-limit", "0"}, err: "usage: --read-limit 0: want a positive number, or -1 for no limit"},
		{name: "read limit below -1", args: []string{"--read-limit", "-2"}, err: "usage: --read-limit -2"},
		{name: "failure rate 1", args: []string{"--failure-rate", "1"}, want: with(func(o *serverOptions) { o.FailureRate = 1 })},
		{name: "failure rate above 1", args: []string{"--failure-rate", "1.5"}, err: "usage: --failure-rate 1.5: want a probability from 0 to 1"},
		{name: "failure rate below 0", args: []string{"--failure-rate", "-0.1"}, err: "usage: --failure-rate -0.1: want a probability from 0 to 1"},
		{name: "failure rate NaN", args: []string{"--failure-rate", "NaN"}, err: "usage: --failure-rate NaN"},
		{name: "failure rate not a number", args: []string{"--failure-rate", "often"}, err: "usage: invalid value"},
		{name: "negative provision delay", args: []string{"--provision-delay", "-1s"}, err: "usage: --provision-delay -1s"},
		{name: "negative autoscale interval", args: []string{"--autoscale-min-interval", "-2s"}, err: "usage: --autoscale-min-interval -2s"},
		{name: "bad duration", args: []string{"--provision-delay", "5"}, err: "usage: invalid value"},
		{name: "static provider", args: []string{"--provider", "static"}, want: with(func(o *serverOptions) { o.Provider = server.ProviderStatic })},
		{name: "unknown provider", args: []string{"--provider", "cloud"}, err: `usage: --provider "cloud": want local, static or exec`},
		{name: "node lost after", args: []string{"--node-lost-after", "3s"}, want: with(func(o *serverOptions) { o.NodeLostAfter = 3 * time.Second })},
		{name: "node lost after too short", args: []string{"--node-lost-after", "10ms"}, err: "usage: --node-lost-after 10ms: want at least 1s"},
		{name: "extra arguments", args: []string{"now"}, err: "usage: unexpected arguments: now"},
		{name: "exec provider", args: []string{"--provider", "exec", "--exec-create", "/c", "--exec-delete", "/d", "--exec-list", "/l",
			"--exec-server-url", "https://10.77.0.1:8765", "--exec-pass-env", "AWS_PROFILE, AWS_REGION", "--exec-pass-env", "HTTPS_PROXY", "--exec-create-timeout", "20m"},
			want: with(func(o *serverOptions) {
				o.Provider = server.ProviderExec
				o.Exec = server.ExecConfig{Create: "/c", Delete: "/d", List: "/l", ServerURL: "https://10.77.0.1:8765",
					PassEnv: []string{"AWS_PROFILE", "AWS_REGION", "HTTPS_PROXY"}, CreateTimeout: 20 * time.Minute}
			})},
		{name: "exec provider without programs", args: []string{"--provider", "exec", "--exec-create", "/c"}, err: "usage: --provider exec needs --exec-create and --exec-delete"},
		{name: "exec flags without exec", args: []string{"--exec-create", "/c", "--exec-list", "/l"}, err: "usage: --exec-create, --exec-list: only with --provider exec"},
		{name: "local flags with exec", args: []string{"--provider", "exec", "--exec-create", "/c", "--exec-delete", "/d", "--failure-rate", "0.5"}, err: "usage: --failure-rate: only with --provider local"},
		{name: "bearer tokens", args: []string{"--token-file", "/t", "--jwt-issuer", "https://sts.windows.net/t/", "--jwks-url", "https://login.example/keys",
			"--jwt-audience", "api://corral, https://batch.core.windows.net/", "--jwt-audience", "api://other", "--jwt-subject", "oid-1,oid-2"},
			want: with(func(o *serverOptions) {
				o.TokenFile, o.JWTIssuer, o.JWKSURL = "/t", "https://sts.windows.net/t/", "https://login.example/keys"
				o.JWTAudiences = []string{"api://corral", "https://batch.core.windows.net/", "api://other"}
				o.JWTSubjects = []string{"oid-1", "oid-2"}
			})},
		{name: "JWKS URL without issuer", args: []string{"--jwks-url", "https://login.example/keys"}, err: "usage: --jwks-url, --jwt-audience and --jwt-subject: only with --jwt-issuer"},
		{name: "audience without issuer", args: []string{"--jwt-audience", "api://corral"}, err: "usage: --jwks-url, --jwt-audience and --jwt-subject: only with --jwt-issuer"},
		{name: "subject without issuer", args: []string{"--jwt-subject", "oid-1"}, err: "usage: --jwks-url, --jwt-audience and --jwt-subject: only with --jwt-issuer"},
		{name: "help", args: []string{"--help"}, err: flag.ErrHelp.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServer(newFlagSet("server"), tt.args, func(k string) string { return env[k] })
			var want any
			if tt.want != nil {
				want = tt.want
			}
			checkParsed(t, got, err, want, tt.err)
		})
	}
}

func TestParseServerTokenEnv(t *testing.T) {
	env := map[string]string{"CORRAL_DATA": "/d", "CORRAL_TOKEN_FILE": "/etc/corral/tokens", "CORRAL_TOKENS": "token-one-0123456789, token-two-0123456789"}
	o, err := parseServer(newFlagSet("server"), nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.TokenFile != "/etc/corral/tokens" || len(o.Tokens) != 2 || o.Tokens[1] != "token-two-0123456789" {
		t.Fatalf("token file %q, %d tokens", o.TokenFile, len(o.Tokens))
	}
	if cfg := o.config(); cfg.TokenFile != o.TokenFile || len(cfg.Tokens) != 2 {
		t.Fatal("config() drops the tokens")
	}
}

func TestServerUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stdoutIn []string
		stderrIn string
	}{
		{args: []string{"server", "--help"}, code: 0,
			stdoutIn: []string{"usage: corral server", "-autoscale-min-interval", "-provision-delay", "-failure-rate", "Azure's 5m",
				"-tls-cert", "-insecure-allow-plain-http", "loopback address", "docs/security.md", "-exec-create", "examples/exec/README.md",
				"-token-file", "-jwt-issuer", "-jwks-url", "-jwt-audience", "-jwt-subject", "https://batch.core.windows.net/"}},
		{args: []string{"server", "--listen", "0.0.0.0:1", "--plain-http"}, code: 2,
			stderrIn: "corral server: --plain-http on 0.0.0.0:1: Corral serves plain HTTP only on a loopback address"},
		{args: []string{"server", "--failure-rate", "2"}, code: 2,
			stderrIn: "corral server: --failure-rate 2: want a probability from 0 to 1\nusage: corral server"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut strings.Builder
			if code := run(tt.args, &out, &errOut); code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			for _, s := range tt.stdoutIn {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout = %q, want it to contain %q", out.String(), s)
				}
			}
			if !strings.Contains(errOut.String(), tt.stderrIn) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tt.stderrIn)
			}
		})
	}
}
