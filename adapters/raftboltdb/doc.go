// Package raftboltdb is github.com/hashicorp/raft-boltdb/v2 v2.3.1's API on
// Pontoon's logstore.BoltStore, so that
//
//	replace github.com/hashicorp/raft-boltdb/v2 => github.com/pontoon-raft/raft/adapters/raftboltdb <version>
//
// gives a service Pontoon's journaled store (one write and one fdatasync
// per StoreLogs) on the same files: the bbolt layout is raft-boltdb's, and a
// cleanly closed directory holds the bbolt file only.
//
// BoltStore embeds *logstore.BoltStore, so it is a LogStore, StableStore and
// MonotonicLogStore and has every method of both stores, RunMetrics (under
// raft-boltdb's metric names) included; MigrateToV2 is added here. Options
// has raft-boltdb's fields;
// MsgpackUseNewTimeFormat is accepted and has no effect (see Options).
package raftboltdb
