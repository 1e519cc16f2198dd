package crashtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPowerFail is TestCrashKill with power failures: each node's directory
// is a memfs (FUSE) mount, and about half of the crashes (and both crashes
// of all nodes at once) also throw away everything the node had not made
// durable: file data and sizes not fsynced, names whose directory was not
// fsynced. Skipped where FUSE is unavailable.
func TestPowerFail(t *testing.T) {
	powerFail(t, "powerfail", scenario{duration: 20 * time.Second, kills: 15})
}

// TestPowerFailSegment is TestPowerFail on logstore.SegmentStore (as
// TestCrashKillSegment), shorter.
func TestPowerFailSegment(t *testing.T) {
	powerFail(t, "powerfail-segment", scenario{duration: 12 * time.Second, kills: 10, store: "segment"})
}

// powerFail runs sc on three memfs mounts, with power failures.
func powerFail(t *testing.T, name string, sc scenario) {
	if testing.Short() {
		t.Skip("runs a cluster of child processes for a minute")
	}
	logDir := keepOnFailure(t, name)
	var dirs []string
	var mounts []*memMount
	for i := 1; i <= 3; i++ {
		d := filepath.Join(logDir, "data", "n"+string(rune('0'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		m := mountOrSkip(t, d)
		t.Cleanup(func() {
			if err := m.unmount(); err != nil {
				t.Error(err)
			}
		})
		dirs = append(dirs, d)
		mounts = append(mounts, m)
	}
	lossLog, err := os.Create(filepath.Join(logDir, "powerfail.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer lossLog.Close()
	sc.dirs = dirs
	sc.powerFail = func(i int) error {
		// What this power failure loses, for the record (a loss of
		// acknowledged writes is then traced to a file here).
		loss := mounts[i].fs.describeLoss()
		fmt.Fprintf(lossLog, "%s power failure of n%d: %d items\n", time.Now().Format("15:04:05.000"), i+1, len(loss))
		for _, l := range loss {
			fmt.Fprintf(lossLog, "    %s\n", l)
		}
		return mounts[i].powerFail()
	}
	runScenario(t, sc, logDir)
	for i, m := range mounts {
		m.fs.mu.Lock()
		t.Logf("n%d: %d file fsyncs, %d directory fsyncs", i+1, m.fs.mu.fsyncs, m.fs.mu.dirFsyncs)
		m.fs.mu.Unlock()
	}
}
