package transport

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"

	raft "github.com/pontoon-raft/raft"
)

// Errors of the TCP and TLS constructors (hashicorp's texts).
var (
	// ErrNotAdvertisable is returned when the address peers would dial is
	// unspecified (0.0.0.0 or ::) and no advertise address is given.
	ErrNotAdvertisable = errors.New("local bind address is not advertisable")
	// ErrNotTCP is returned when the advertised address is not a TCP address.
	ErrNotTCP = errors.New("local address is not a TCP address")
)

// TCPStreamLayer is a plain TCP StreamLayer.
type TCPStreamLayer struct {
	advertise net.Addr
	listener  net.Listener
}

// NewTCPStreamLayer listens on bindAddr. advertise, if not nil, is the
// address reported by Addr (and so by LocalAddr); it must be a specific
// TCP address.
func NewTCPStreamLayer(bindAddr string, advertise net.Addr) (*TCPStreamLayer, error) {
	l, err := net.Listen("tcp", bindAddr)
	if err != nil {
		return nil, err
	}
	s := &TCPStreamLayer{advertise: advertise, listener: l}
	if err := checkAdvertisable(s.Addr()); err != nil {
		_ = l.Close()
		return nil, err
	}
	return s, nil
}

func checkAdvertisable(a net.Addr) error {
	addr, ok := a.(*net.TCPAddr)
	if !ok {
		return ErrNotTCP
	}
	if addr.IP == nil || addr.IP.IsUnspecified() {
		return ErrNotAdvertisable
	}
	return nil
}

// Dial implements StreamLayer.
func (t *TCPStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(address), timeout)
}

// Accept implements net.Listener.
func (t *TCPStreamLayer) Accept() (net.Conn, error) { return t.listener.Accept() }

// Close implements net.Listener.
func (t *TCPStreamLayer) Close() error { return t.listener.Close() }

// Addr implements net.Listener: the advertised address if set.
func (t *TCPStreamLayer) Addr() net.Addr {
	if t.advertise != nil {
		return t.advertise
	}
	return t.listener.Addr()
}

// NewTCPTransport returns a NetworkTransport over TCP listening on bindAddr.
func NewTCPTransport(bindAddr string, advertise net.Addr, maxPool int, timeout time.Duration, logOutput io.Writer) (*NetworkTransport, error) {
	s, err := NewTCPStreamLayer(bindAddr, advertise)
	if err != nil {
		return nil, err
	}
	return NewNetworkTransport(s, maxPool, timeout, logOutput), nil
}

// NewTCPTransportWithLogger is NewTCPTransport with an hclog logger.
func NewTCPTransportWithLogger(bindAddr string, advertise net.Addr, maxPool int, timeout time.Duration, logger hclog.Logger) (*NetworkTransport, error) {
	s, err := NewTCPStreamLayer(bindAddr, advertise)
	if err != nil {
		return nil, err
	}
	return NewNetworkTransportWithLogger(s, maxPool, timeout, logger), nil
}

// NewTCPTransportWithConfig returns a NetworkTransport over TCP with config;
// config.Stream is set to the new stream layer.
func NewTCPTransportWithConfig(bindAddr string, advertise net.Addr, config *NetworkTransportConfig) (*NetworkTransport, error) {
	s, err := NewTCPStreamLayer(bindAddr, advertise)
	if err != nil {
		return nil, err
	}
	config.Stream = s
	return NewNetworkTransportWithConfig(config), nil
}
