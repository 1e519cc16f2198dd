// Package apicompat compares the exported API of the hashicorp/raft facade
// (adapters/hcraft) with hashicorp/raft v1.8.0's, by go/types on both
// packages' export data: every exported identifier, field and method, with
// its signature. Its test fails on anything missing or different that the
// allow-list (allowlist.txt) does not name with a reason, and on a stale
// allow-list entry; it also writes the API table docs/hcraft-api.md.
package apicompat

import (
	// The compared packages, required by this module so that `go list`
	// finds them.
	_ "github.com/hashicorp/raft"
	_ "github.com/pontoon-raft/raft/adapters/hcraft"
)
