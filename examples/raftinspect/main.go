// Command raftinspect reads a Pontoon (or hashicorp/raft with raft-boltdb)
// data directory without a running node: the log in raft.db and its
// journal, the stable keys, the configuration history and the snapshots.
// It can dump entries, verify every record, and fold a crashed node's
// journal into raft.db. See docs/raftinspect.md.
//
//	raftinspect [info] DATA_DIR
//	raftinspect dump -from N -to M DATA_DIR
//	raftinspect verify DATA_DIR
//	raftinspect checkpoint DATA_DIR
package main

import (
	"os"

	"github.com/pontoon-raft/raft/examples/raftinspect/inspect"
)

func main() {
	os.Exit(inspect.Main(os.Args[1:], os.Stdout, os.Stderr))
}
