package server

import (
	"strings"
	"testing"
)

// A store that cannot be opened is a clear error that names it, never its password, and a
// store URL Corral does not know is refused.
func TestStartStoreErrors(t *testing.T) {
	tests := []struct {
		name, store string
		want        []string
	}{
		{"PostgreSQL unreachable", "postgres://corral:s3cret@127.0.0.1:1/corral?sslmode=disable",
			[]string{"postgres://corral:xxxxx@127.0.0.1:1/corral", "connection refused"}},
		{"unknown scheme", "mysql://corral:s3cret@127.0.0.1/corral", []string{"unknown store"}},
		{"sqlite without a path", "sqlite:", []string{"needs a file path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := Start(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Account: Account{Name: "corral", Key: []byte("k")}, Store: tt.store})
			if err == nil {
				srv.Close()
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestStoreName(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h/db":  "postgres://u:xxxxx@h/db",
		"sqlite:/var/corral.db": "sqlite:/var/corral.db",
		"host=h password=pw":    "host=h password=xxxxx",
	} {
		if got := StoreName(in); got != want {
			t.Errorf("StoreName(%q) = %q, want %q", in, got, want)
		}
	}
}
