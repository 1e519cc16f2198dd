package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// TLSStreamLayer is a StreamLayer over TLS (crypto/tls). Both ends use the
// same *tls.Config: its Certificates are presented in both directions, its
// RootCAs verify servers and its ClientCAs verify clients. For mutual
// authentication set ClientAuth to tls.RequireAndVerifyClientCert: a peer
// without a certificate from ClientCAs then fails the handshake, and its
// connection is closed before any request is read.
//
// Dial completes the handshake (within the timeout) before returning;
// accepted connections are handshaken on their own goroutine, so a silent
// peer never holds up Accept.
type TLSStreamLayer struct {
	advertise net.Addr
	listener  net.Listener
	config    *tls.Config
}

// NewTLSStreamLayer listens on bindAddr with config (see TLSStreamLayer).
func NewTLSStreamLayer(bindAddr string, advertise net.Addr, config *tls.Config) (*TLSStreamLayer, error) {
	if config == nil {
		return nil, fmt.Errorf("%w: nil tls.Config", raft.ErrInvalidConfig)
	}
	l, err := net.Listen("tcp", bindAddr)
	if err != nil {
		return nil, err
	}
	s := &TLSStreamLayer{advertise: advertise, listener: l, config: config}
	if err := checkAdvertisable(s.Addr()); err != nil {
		_ = l.Close()
		return nil, err
	}
	return s, nil
}

// Dial implements StreamLayer: a TCP connection and a complete TLS
// handshake, both within timeout.
func (t *TLSStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: t.config}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c, err := d.DialContext(ctx, "tcp", string(address))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Accept implements net.Listener; the handshake happens on first use.
func (t *TLSStreamLayer) Accept() (net.Conn, error) {
	c, err := t.listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(c, t.config), nil
}

// Close implements net.Listener.
func (t *TLSStreamLayer) Close() error { return t.listener.Close() }

// Addr implements net.Listener: the advertised address if set.
func (t *TLSStreamLayer) Addr() net.Addr {
	if t.advertise != nil {
		return t.advertise
	}
	return t.listener.Addr()
}

// NewTLSTransport returns a NetworkTransport over TLS listening on bindAddr.
func NewTLSTransport(bindAddr string, advertise net.Addr, tlsConfig *tls.Config, maxPool int, timeout time.Duration, logOutput io.Writer) (*NetworkTransport, error) {
	s, err := NewTLSStreamLayer(bindAddr, advertise, tlsConfig)
	if err != nil {
		return nil, err
	}
	return NewNetworkTransport(s, maxPool, timeout, logOutput), nil
}

// NewTLSTransportWithConfig returns a NetworkTransport over TLS with config;
// config.Stream is set to the new stream layer.
func NewTLSTransportWithConfig(bindAddr string, advertise net.Addr, tlsConfig *tls.Config, config *NetworkTransportConfig) (*NetworkTransport, error) {
	s, err := NewTLSStreamLayer(bindAddr, advertise, tlsConfig)
	if err != nil {
		return nil, err
	}
	config.Stream = s
	return NewNetworkTransportWithConfig(config), nil
}
