//go:build thirdparty_deps

package thirdparty

// Never built (the tag is never set): the packages, and what their own tests
// import, that TestThirdPartySuites runs `go test` on. Listing them here keeps
// every module they need in go.mod and go.sum, so `go mod download` fetches
// them and the suites run without the network. serf is here for
// testdata/service, which links it.
import (
	_ "github.com/hashicorp/raft-autopilot"
	_ "github.com/hashicorp/raft-boltdb"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/hashicorp/raft-wal"
	_ "github.com/hashicorp/raft-wal/alice/checker"
	_ "github.com/hashicorp/raft-wal/alice/workload"
	_ "github.com/hashicorp/raft-wal/bench"
	_ "github.com/hashicorp/raft-wal/cmd/waldump"
	_ "github.com/hashicorp/raft-wal/fs"
	_ "github.com/hashicorp/raft-wal/metadb"
	_ "github.com/hashicorp/raft-wal/metrics"
	_ "github.com/hashicorp/raft-wal/migrate"
	_ "github.com/hashicorp/raft-wal/segment"
	_ "github.com/hashicorp/raft-wal/types"
	_ "github.com/hashicorp/raft-wal/verifier"
	_ "github.com/hashicorp/raft/bench"
	_ "github.com/hashicorp/serf/serf"

	_ "github.com/google/gofuzz"
	_ "github.com/stretchr/testify/mock"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
)
