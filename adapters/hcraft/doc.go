// Package raft is hashicorp/raft v1.8.0's public API on Pontoon: every
// exported type, function, constant and variable of
// github.com/hashicorp/raft, under the same name and with the same signature,
// so that a service switches engines with one line in go.mod:
//
//	replace github.com/hashicorp/raft => github.com/pontoon-raft/raft/adapters/hcraft <version>
//
// (with a directory instead of a version, add
// `replace github.com/pontoon-raft/raft => <pontoon directory>` too). New
// code can also import it under its own path.
//
// # Aliases
//
// Types are aliases of Pontoon's own (root package raft, raftimpl,
// logstore, snapshot, transport): raft.Log here is Pontoon's raft.Log, and
// raft.Raft is raftimpl.Raft. So libraries typed on hashicorp's package —
// log stores such as raft-wal and raft-boltdb, transports, admin tools,
// autopilot — compile against this package and hand Pontoon values it
// accepts, with no conversion. Functions forward to Pontoon's, and errors
// are Pontoon's sentinels themselves, so comparisons with == hold across
// both import paths.
//
// # Shims
//
// Where hashicorp's shape differs from Pontoon's, a thin shim gives
// hashicorp's (shims.go): DecodeConfiguration panics on bad input;
// ProtocolVersionMax and SnapshotVersionMax are untyped; ReadPeersJSON,
// ReadConfigJSON and LeadershipTransferFuture are defined here.
//
// # Test helpers
//
// hashicorp/raft exports helpers for middleware tests, and so does this
// package: MockFSM, MockFSMConfigStore, MockSnapshot, MockMonotonicLogStore,
// InmemCommitTrackingStore, FileSnapTest, and MakeCluster,
// MakeClusterNoBootstrap, MakeClusterCustom and MakeClusterCustomWithErr
// with their cluster's methods (Leader, Followers, WaitForReplication,
// Partition, EnsureSame, ...), written for Pontoon. The subpackage bench is
// hashicorp/raft/bench.
//
// The whole API is compared with hashicorp/raft v1.8.0's by
// interop/apicompat, which writes the table docs/hcraft-api.md; the few
// members that are missing are listed there with the reason.
package raft
