package thirdparty

import (
	"strings"
	"testing"
)

// suites are the libraries written against hashicorp/raft whose own test
// suites run here, unmodified, on Pontoon (this module's go.mod replaces
// github.com/hashicorp/raft with adapters/hcraft).
var suites = []string{
	"github.com/hashicorp/raft-wal/...",       // v0.4.0
	"github.com/hashicorp/raft-boltdb/v2/...", // v2.3.1
	"github.com/hashicorp/raft-boltdb",        // v1, which raft-boltdb/v2 migrates from
	"github.com/hashicorp/raft-autopilot",     // v0.3.0
}

// skipped are the tests of those suites left out, each for its reason.
var skipped = []string{
	// raft-autopilot: fails the same way on hashicorp/raft v1.8.0 itself
	// (a mock expectation on NotifyState is met twice); it passes with
	// raft v1.6.0, which raft-autopilot v0.3.0 was released against.
	"TestRunLifeCycle",
	// raft-wal/segment: a wall-clock throughput check of raft-wal's
	// segment files (it fails if writing and reading a segment takes over
	// 10 s), which a loaded 2-core CI machine can miss whatever the engine.
	"TestConcurrentReadersAndWriter",
	// raft-wal/segment: its payload is 65,528 bytes but the length it draws
	// at random goes up to 65,535, so writeFrame's slice of the payload
	// panics in about one run in nine (45 of 400 here), whatever the
	// engine: the test's own bug, not raft-wal's or Pontoon's.
	"TestFrameCodecFuzz",
}

// TestThirdPartySuites runs the libraries' own tests through the replace, in
// one `go test` (their packages build in parallel). Their packages compile
// against the facade, which also proves that code typed on hashicorp/raft's
// types compiles unchanged.
func TestThirdPartySuites(t *testing.T) {
	args := []string{"test", "-count=1", "-timeout=5m", "-skip", "^(" + strings.Join(skipped, "|") + ")$"}
	out := run(t, goCmd(t, ".", append(args, suites...)...))
	passed := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ok") {
			t.Log(line)
			passed++
		}
	}
	if passed < 10 {
		t.Fatalf("only %d packages passed:\n%s", passed, out)
	}
}
