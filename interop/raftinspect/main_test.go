// Package raftinspect runs examples/raftinspect against data directories
// written by raft-boltdb/v2 and hashicorp/raft's FileSnapshotStore, and
// checks that its checkpoint makes a crashed Pontoon store whole for
// raft-boltdb.
package raftinspect

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
