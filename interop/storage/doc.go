// Package storage holds the disk-format interoperability tests between
// Pontoon's stores and HashiCorp's (logstore.BoltStore against
// raft-boltdb/v2 v2.3.1, snapshot.FileSnapshotStore against hashicorp/raft
// v1.8.0's FileSnapshotStore), in both directions, and the side-by-side
// benchmarks of the two bbolt log stores. It has no non-test code.
package storage
