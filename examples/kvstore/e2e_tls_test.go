package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeTestPKI writes a CA and one certificate for 127.0.0.1 (server and
// client use) signed by it; it returns the cert, key and CA file names.
func writeTestPKI(t *testing.T) (certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kvstore test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kvstore"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", keyDER), write("ca.pem", "CERTIFICATE", caDER)
}

// Two servers over TLS (mutual TLS for Raft, HTTPS for the API): a join, a
// forwarded write, reads, then POST /leave makes the second one leave the
// configuration and exit cleanly on its own.
func TestTLSJoinAndLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	certFile, keyFile, caFile := writeTestPKI(t)
	pem, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &e2eCluster{t: t, bin: buildKVStore(t), scheme: "https",
		flags: []string{"-tls-cert", certFile, "-tls-key", keyFile, "-tls-ca", caFile},
		client: &http.Client{Timeout: 15 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	defer c.stopAll()
	addrs := freePorts(t, 4)
	n1 := c.newNode("node1", addrs[0], addrs[1], "-bootstrap")
	n2 := c.newNode("node2", addrs[2], addrs[3], "-join", n1.httpAddr)
	c.waitFor("two voters", 30*time.Second, func() error {
		for _, n := range []*e2eNode{n1, n2} {
			st, err := c.status(n)
			if err != nil {
				return err
			}
			if len(st.Configuration) != 2 || st.Leader == nil {
				return fmt.Errorf("%s: leader %v, configuration %+v", n.id, st.Leader, st.Configuration)
			}
		}
		return nil
	})
	leader, err := c.leader()
	if err != nil {
		t.Fatal(err)
	}
	follower := n1
	if leader == n1 {
		follower = n2
	}
	c.put(follower, "secret", "s3")
	if code, v, err := c.get(follower, "secret", ""); err != nil || code != http.StatusOK || v != "s3" {
		t.Fatalf("GET over HTTPS on %s: %d %q %v", follower.id, code, v, err)
	}
	// Plain HTTP to the API is refused.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + n1.httpAddr + "/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served by a TLS server")
		}
	}

	code, b, err := c.do("POST", c.url(follower)+"/leave", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST /leave on %s: %d %s %v", follower.id, code, b, err)
	}
	select {
	case <-follower.done:
		if follower.err != nil {
			c.dumpLogs()
			t.Fatalf("%s exited with %v after leaving", follower.id, follower.err)
		}
	case <-time.After(30 * time.Second):
		c.dumpLogs()
		t.Fatalf("%s still running 30s after leaving", follower.id)
	}
	st, err := c.status(leader)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Configuration) != 1 || st.Configuration[0].ID != leader.id {
		t.Fatalf("configuration after the leave: %+v", st.Configuration)
	}
	c.put(leader, "after", "leave") // a single voter commits alone
	if err := leader.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-leader.done
	if leader.err != nil {
		t.Fatalf("%s: exit %v after SIGINT", leader.id, leader.err)
	}
}
