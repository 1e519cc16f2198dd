// Package crashtest holds Pontoon's real-crash linearizability tests; it has
// no code outside its tests.
//
// Each test runs a 3-node cluster as three OS processes (the test binary
// re-executing itself) on the default on-disk stores (logstore.BoltStore
// with its journal, snapshot.FileSnapshotStore, TCP transport on loopback)
// and small snapshot thresholds, so that snapshots, compaction and journal
// replay happen all the time. Concurrent clients drive a key-value service
// over HTTP and record a history; a nemesis SIGKILLs nodes and restarts them
// on the same directory. At the end the history is checked with porcupine,
// every acknowledged write is looked for, and the nodes' state machines are
// compared.
//
// TestCrashKill crashes processes only (the kernel keeps what they wrote).
// TestPowerFail puts each node's directory on an in-memory FUSE file system
// (memfs) that keeps what was not fsynced apart and throws it away on a
// simulated power failure, as a machine losing power does.
//
// The module is nested (its own go.mod) so that porcupine and go-fuse stay
// out of the main module.
package crashtest
