// Package transport defines how Raft nodes talk to each other: the Transport
// and AppendPipeline interfaces and the RPC request and response types, with
// hashicorp/raft's method sets, struct and field names (the field names are
// the msgpack map keys on the wire).
//
// Implementations:
//   - NetworkTransport: TCP (optionally TLS), byte-compatible with
//     hashicorp/raft's NetworkTransport.
//   - InmemTransport: in-process, for tests; Connect/Disconnect model
//     partitions.
//
// NetworkTransport's server side is built to survive hostile or broken
// clients: every frame is bounded before it is read; a connection must
// deliver its first complete request within Timeout of being accepted;
// at MaxInboundConns, idle connections (those that never sent a request
// first) are evicted to admit new ones, so a flood of silent connections
// cannot lock a cluster peer out; floods are reported at WARN, at most
// every 10 s (net_admit.go). It emits hashicorp's raft.net.* timers through
// go-metrics (net_metrics.go).
//
// ReadIndex is Pontoon's extension RPC: hashicorp/raft nodes close the
// connection on it. NetworkTransport recognises that (WithReadIndexSupport)
// so the engine fails a follower's read at once (net_readindex.go).
package transport
