// Package interop holds the code of Pontoon that depends on HashiCorp's
// engine: interoperability tests against hashicorp/raft v1.8.0 and
// raft-boltdb/v2 v2.3.1 (wire and disk formats) and the side-by-side
// benchmarks. It is a nested module so that users of Pontoon never download
// hashicorp/raft.
package interop

import (
	// Pinned here so the module's requirements stay put while tests in
	// subpackages come and go.
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/pontoon-raft/raft"
)
