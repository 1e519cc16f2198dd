// Package apicompat compares the exported API of the hashicorp/raft facade
// (adapters/hcraft, and its bench subpackage) with hashicorp/raft v1.8.0's,
// and that of adapters/raftboltdb with raft-boltdb/v2 v2.3.1's,
// by go/types on both packages' export data: every exported identifier,
// field and method, with its signature. Its test fails on anything missing
// or different that the allow-list (allowlist.txt) does not name with a
// reason, and on a stale allow-list entry; it also keeps the API table,
// docs/hcraft-api.md, up to date.
package apicompat

import (
	// The compared packages, required by this module so that `go list`
	// finds them.
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/hashicorp/raft/bench"
	_ "github.com/pontoon-raft/raft/adapters/hcraft"
	_ "github.com/pontoon-raft/raft/adapters/hcraft/bench"
	_ "github.com/pontoon-raft/raft/adapters/raftboltdb"
)
