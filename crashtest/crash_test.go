package crashtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCrashKill: three node processes on the default stores, SIGKILLed
// every 1-3 s (the leader a third of the time, all three at once twice) and
// restarted on the same directories, under concurrent clients. Checks:
// every restart succeeds, the history is linearizable, every acknowledged
// write is in the final state, and the three FSMs are identical.
func TestCrashKill(t *testing.T) {
	crashKill(t, "crashkill", scenario{duration: 30 * time.Second, kills: 30})
}

// TestCrashKillSegment is TestCrashKill on logstore.SegmentStore (64 KiB
// segments: a rotation every few dozen entries, compaction emptying and
// reusing segments after every snapshot), shorter.
func TestCrashKillSegment(t *testing.T) {
	crashKill(t, "crashkill-segment", scenario{duration: 15 * time.Second, kills: 15, store: "segment"})
}

// crashKill runs sc on three fresh data directories.
func crashKill(t *testing.T, name string, sc scenario) {
	if testing.Short() {
		t.Skip("runs a cluster of child processes")
	}
	logDir := keepOnFailure(t, name)
	for i := 1; i <= 3; i++ {
		d := filepath.Join(logDir, "data", "n"+string(rune('0'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		sc.dirs = append(sc.dirs, d)
	}
	runScenario(t, sc, logDir)
}
