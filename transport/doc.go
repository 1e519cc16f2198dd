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
package transport
