// Package migration tests moving data and clusters between hashicorp/raft
// v1.8.0 (with raft-boltdb/v2 and its FileSnapshotStore) and Pontoon (with
// logstore.BoltStore and snapshot.FileSnapshotStore), both ways: a data
// directory opened in place by the other engine, a rolling replacement of a
// cluster's nodes under write load, mixed clusters with the leader on
// either side, and a Pontoon node killed with SIGKILL whose directory is
// handed to hashicorp/raft by the documented procedure (docs/migrating.md).
package migration
