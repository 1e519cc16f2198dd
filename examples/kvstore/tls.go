package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// loadTLS reads -tls-cert, -tls-key and -tls-ca. Without -tls-cert it
// returns nil: plain TCP and HTTP. With them, Raft traffic is mutually
// authenticated TLS (every server presents its certificate and accepts only
// peers whose certificate the CA signed) and the HTTP API is HTTPS with the
// same certificate. The certificate must name the advertised host of this
// server (an IP SAN for an IP address).
func loadTLS(o *options) (*tls.Config, error) {
	if o.tlsCert == "" && o.tlsKey == "" && o.tlsCA == "" {
		return nil, nil
	}
	if o.tlsCert == "" || o.tlsKey == "" || o.tlsCA == "" {
		return nil, errors.New("TLS needs all of -tls-cert, -tls-key and -tls-ca")
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("loading -tls-cert %s and -tls-key %s: %w", o.tlsCert, o.tlsKey, err)
	}
	pem, err := os.ReadFile(o.tlsCA)
	if err != nil {
		return nil, fmt.Errorf("-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", o.tlsCA)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool, // verifies the servers this one dials
		ClientCAs:    pool, // verifies the clients that dial this one
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// raftTLS is the Raft transport's config: mutual authentication.
func (n *node) raftTLS() *tls.Config {
	c := n.tls.Clone()
	c.ClientAuth = tls.RequireAndVerifyClientCert
	return c
}

// httpServerTLS is the API's config: clients (curl --cacert) need no
// certificate; one they present must be signed by the CA.
func (n *node) httpServerTLS() *tls.Config {
	c := n.tls.Clone()
	c.ClientAuth = tls.VerifyClientCertIfGiven
	return c
}
