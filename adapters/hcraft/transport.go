package raft

import (
	"io"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pontoon-raft/raft/transport"
)

// Transports and their RPCs: Pontoon's transport package.

type (
	AppendEntriesRequest    = transport.AppendEntriesRequest
	AppendEntriesResponse   = transport.AppendEntriesResponse
	AppendFuture            = transport.AppendFuture
	AppendPipeline          = transport.AppendPipeline
	InmemTransport          = transport.InmemTransport
	InstallSnapshotRequest  = transport.InstallSnapshotRequest
	InstallSnapshotResponse = transport.InstallSnapshotResponse
	LoopbackTransport       = transport.LoopbackTransport
	NetworkTransport        = transport.NetworkTransport
	NetworkTransportConfig  = transport.NetworkTransportConfig
	RPC                     = transport.RPC
	RPCHeader               = transport.RPCHeader
	RPCResponse             = transport.RPCResponse
	RequestPreVoteRequest   = transport.RequestPreVoteRequest
	RequestPreVoteResponse  = transport.RequestPreVoteResponse
	RequestVoteRequest      = transport.RequestVoteRequest
	RequestVoteResponse     = transport.RequestVoteResponse
	ServerAddressProvider   = transport.ServerAddressProvider
	StreamLayer             = transport.StreamLayer
	TCPStreamLayer          = transport.TCPStreamLayer
	TimeoutNowRequest       = transport.TimeoutNowRequest
	TimeoutNowResponse      = transport.TimeoutNowResponse
	Transport               = transport.Transport
	WithClose               = transport.WithClose
	WithPeers               = transport.WithPeers
	WithPreVote             = transport.WithPreVote
	WithRPCHeader           = transport.WithRPCHeader
)

const (
	// DefaultMaxRPCsInFlight is hashicorp/raft's value. Pontoon's
	// NetworkTransport given MaxRPCsInFlight 0 uses
	// transport.DefaultMaxRPCsInFlight (8) instead: its engine keeps two
	// requests outstanding while they are small and uses the rest for full
	// ones. Passing this constant asks for hashicorp's two.
	DefaultMaxRPCsInFlight = 2
	DefaultTimeoutScale    = transport.DefaultTimeoutScale
)

// NewInmemAddr is transport.NewInmemAddr.
func NewInmemAddr() ServerAddress {
	return transport.NewInmemAddr()
}

// NewInmemTransport is transport.NewInmemTransport.
func NewInmemTransport(addr ServerAddress) (ServerAddress, *InmemTransport) {
	return transport.NewInmemTransport(addr)
}

// NewInmemTransportWithTimeout is transport.NewInmemTransportWithTimeout.
func NewInmemTransportWithTimeout(addr ServerAddress, timeout time.Duration) (ServerAddress, *InmemTransport) {
	return transport.NewInmemTransportWithTimeout(addr, timeout)
}

// NewNetworkTransport is transport.NewNetworkTransport.
func NewNetworkTransport(stream StreamLayer, maxPool int, timeout time.Duration, logOutput io.Writer) *NetworkTransport {
	return transport.NewNetworkTransport(stream, maxPool, timeout, logOutput)
}

// NewNetworkTransportWithConfig is transport.NewNetworkTransportWithConfig.
func NewNetworkTransportWithConfig(config *NetworkTransportConfig) *NetworkTransport {
	return transport.NewNetworkTransportWithConfig(config)
}

// NewNetworkTransportWithLogger is transport.NewNetworkTransportWithLogger.
func NewNetworkTransportWithLogger(stream StreamLayer, maxPool int, timeout time.Duration, logger hclog.Logger) *NetworkTransport {
	return transport.NewNetworkTransportWithLogger(stream, maxPool, timeout, logger)
}

// NewTCPTransport is transport.NewTCPTransport.
func NewTCPTransport(bindAddr string, advertise net.Addr, maxPool int, timeout time.Duration, logOutput io.Writer) (*NetworkTransport, error) {
	return transport.NewTCPTransport(bindAddr, advertise, maxPool, timeout, logOutput)
}

// NewTCPTransportWithConfig is transport.NewTCPTransportWithConfig.
func NewTCPTransportWithConfig(bindAddr string, advertise net.Addr, config *NetworkTransportConfig) (*NetworkTransport, error) {
	return transport.NewTCPTransportWithConfig(bindAddr, advertise, config)
}

// NewTCPTransportWithLogger is transport.NewTCPTransportWithLogger.
func NewTCPTransportWithLogger(bindAddr string, advertise net.Addr, maxPool int, timeout time.Duration, logger hclog.Logger) (*NetworkTransport, error) {
	return transport.NewTCPTransportWithLogger(bindAddr, advertise, maxPool, timeout, logger)
}
