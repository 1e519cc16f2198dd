// Package thirdparty runs libraries written against hashicorp/raft on
// Pontoon, through `replace github.com/hashicorp/raft => ../../adapters/hcraft`
// in this module's go.mod: their own test suites, unmodified, and a small
// service. The module pins no go-metrics version: raft-boltdb/v2 and serf
// import go-metrics/compat, and the facade's requirements keep a version
// that has it.
package thirdparty

import (
	// The libraries whose test suites run here; importing them keeps them,
	// and everything their tests need, in go.mod and go.sum.
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/hashicorp/raft-wal"
)
