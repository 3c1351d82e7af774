package main

import (
	"crypto/tls"
	"net/http"

	"corral/pki"
)

// tlsTransport returns a transport like http.DefaultTransport that trusts the CA certificates of
// caPEM instead of the system's roots when caPEM is not empty, and checks the server's
// certificate against serverName instead of the URL's host when serverName is not "". It
// returns nil when both are empty: the default transport does.
func tlsTransport(caPEM []byte, serverName string) (*http.Transport, error) {
	if len(caPEM) == 0 && serverName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12} // the system's roots
	if len(caPEM) > 0 {
		var err error
		if cfg, err = pki.ClientConfigFromPEM(caPEM); err != nil {
			return nil, err
		}
	}
	cfg.ServerName = serverName
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return tr, nil
}
