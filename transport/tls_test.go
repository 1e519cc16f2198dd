package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a certificate for 127.0.0.1 usable as client and server.
func (ca *testCA) leaf(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mutualConfig trusts ca for both roles and presents certs (if any).
func mutualConfig(ca *testCA, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: certs,
		RootCAs:      ca.pool,
		ClientCAs:    ca.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

func newTLSTestTransport(t *testing.T, cfg *tls.Config) (*NetworkTransport, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	tr, err := NewTLSTransportWithConfig("127.0.0.1:0", nil, cfg, &NetworkTransportConfig{
		MaxPool: 2, Timeout: 5 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logs, Level: hclog.Debug}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr, logs
}

func TestTLSMutualAuth(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	other := newTestCA(t, "other CA")
	srv, _ := newTLSTestTransport(t, mutualConfig(ca, ca.leaf(t, "server")))
	var served atomic.Int64
	serve(t, srv, func(rpc RPC) {
		served.Add(1)
		rpc.Respond(&RequestVoteResponse{Term: 3, Granted: true}, nil)
	})
	call := func(cli *NetworkTransport) error {
		var resp RequestVoteResponse
		err := cli.RequestVote("srv", srv.LocalAddr(), &RequestVoteRequest{RPCHeader: header("c", "c"), Term: 3}, &resp)
		if err == nil && (!resp.Granted || resp.Term != 3) {
			t.Fatalf("bad response %+v", resp)
		}
		return err
	}

	t.Run("valid certificate", func(t *testing.T) {
		cli, _ := newTLSTestTransport(t, mutualConfig(ca, ca.leaf(t, "client")))
		for i := 0; i < 3; i++ {
			if err := call(cli); err != nil {
				t.Fatal(err)
			}
		}
		// Pipelines work over TLS too.
		p, err := cli.AppendEntriesPipeline("srv", srv.LocalAddr())
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Close()
	})
	before := served.Load()
	t.Run("no certificate", func(t *testing.T) {
		cli, _ := newTLSTestTransport(t, mutualConfig(ca))
		if err := call(cli); err == nil {
			t.Fatal("a client without a certificate was served")
		}
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		cfg := mutualConfig(ca, other.leaf(t, "intruder"))
		cli, _ := newTLSTestTransport(t, cfg)
		if err := call(cli); err == nil {
			t.Fatal("a client with a foreign certificate was served")
		}
	})
	t.Run("server not trusted", func(t *testing.T) {
		cfg := mutualConfig(other, other.leaf(t, "client"))
		cli, _ := newTLSTestTransport(t, cfg)
		if err := call(cli); err == nil {
			t.Fatal("client accepted a server from an untrusted CA")
		}
	})
	if got := served.Load(); got != before {
		t.Fatalf("%d RPCs from unauthenticated peers reached the engine", got-before)
	}
}

// TestTLSConnFlood: silent connections to a TLS transport (they never
// start a handshake) neither lock a peer out nor log an ERROR each: they
// are evicted at the limit and time out in Timeout, reported in sum.
func TestTLSConnFlood(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	logs := &logBuffer{}
	srv, err := NewTLSTransportWithConfig("127.0.0.1:0", nil, mutualConfig(ca, ca.leaf(t, "server")), &NetworkTransportConfig{
		MaxPool: 2, Timeout: 500 * time.Millisecond, MaxInboundConns: 8,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logs, Level: hclog.Debug}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	serve(t, srv, func(rpc RPC) { rpc.Respond(&RequestVoteResponse{Granted: true}, nil) })
	silentConns(t, srv.LocalAddr(), 20)
	cli, _ := newTLSTestTransport(t, mutualConfig(ca, ca.leaf(t, "client")))
	if err := cli.RequestVote("srv", srv.LocalAddr(), &RequestVoteRequest{Term: 1}, &RequestVoteResponse{}); err != nil {
		t.Fatalf("TLS peer locked out: %v", err)
	}
	waitFor(t, "the silent connections to time out", func() bool {
		return strings.Contains(logs.String(), "TLS handshake timed out") && serverConnCount(srv) <= 2
	})
	if out := logs.String(); strings.Contains(out, "[ERROR]") {
		t.Fatalf("a flood logged errors:\n%s", out)
	}
}
