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
	if testing.Short() {
		t.Skip("runs a cluster of child processes for a minute")
	}
	logDir := keepOnFailure(t, "crashkill")
	var dirs []string
	for i := 1; i <= 3; i++ {
		d := filepath.Join(logDir, "data", "n"+string(rune('0'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	runScenario(t, scenario{duration: 30 * time.Second, kills: 30, dirs: dirs}, logDir)
}
