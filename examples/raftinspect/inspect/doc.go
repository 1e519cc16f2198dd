// Package inspect is raftinspect's implementation, a package of its own so
// tests in other modules (interop, against directories raft-boltdb wrote)
// can run it in process.
//
// It reads everything through the engine's public storage API:
// logstore.BoltStore opened read-only (which replays a crashed node's
// journal in memory, so the log it shows is the node's whole log) and
// snapshot.FileSnapshotStore. Only checkpoint writes: it opens the store
// read-write without a journal, which folds the journal into raft.db and
// removes it, leaving a file every raft-boltdb reader sees whole.
//
// Exit codes: 0 success; 1 the directory is damaged (verify found a
// problem, or the store refused to open as corrupt); 2 usage errors, a
// directory in use by a running node, or other failures.
package inspect
