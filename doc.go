// Package raft is Pontoon's vocabulary: the types every other package of
// Pontoon shares. It mirrors the shapes of github.com/hashicorp/raft so that a
// service written against that library can move to Pontoon by one line in
// go.mod, a replace onto adapters/hcraft (docs/migrating.md).
//
// The package holds only data types, interfaces and sentinel errors: no
// goroutines and no I/O. The engine lives in package raftimpl; the pluggable
// parts live in logstore, snapshot and transport.
//
// Layering (nothing imports anything above it):
//
//	examples/                 services built only on the public API
//	adapters/hcraft/          hashicorp/raft's whole API as aliases of Pontoon's
//	adapters/raftboltdb/      raft-boltdb/v2's API on logstore.BoltStore
//	                          (both nested modules, used through a replace)
//	raftimpl/                 NewRaft, Config, futures, driver, protocol core
//	transport/ logstore/ snapshot/
//	raft (this package)       Log, FSM, Configuration, errors
//
// Errors are sentinels declared in errors.go. Other packages wrap them with
// fmt.Errorf("...: %w", err); callers match them with errors.Is.
package raft
