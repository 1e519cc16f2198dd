package raftimpl

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestTimerPoolNoStaleValue: a pooled timer that fired unread does not
// end the next wait at once, with the current timer channels and with the
// pre-Go 1.23 ones (GODEBUG asynctimerchan=1, which a program whose main
// module is older gets), checked in a child process.
func TestTimerPoolNoStaleValue(t *testing.T) {
	check := func() {
		start := time.Now()
		tm := getTimer(time.Millisecond)
		// Let it fire, unread: with the old channels its value then waits
		// in the buffer; the current ones hold nothing to see.
		old := cap(tm.C) == 1
		for deadline := start.Add(5 * time.Second); (old && len(tm.C) == 0) || time.Since(start) < 5*time.Millisecond; {
			if time.Now().After(deadline) {
				t.Fatal("the timer did not fire")
			}
			time.Sleep(time.Millisecond)
		}
		putTimer(tm)
		again := getTimer(time.Hour)
		defer putTimer(again)
		select {
		case <-again.C:
			t.Fatal("a pooled timer delivered a stale value")
		default:
		}
	}
	if os.Getenv("PONTOON_TIMER_CHILD") != "" {
		check()
		return
	}
	check()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTimerPoolNoStaleValue$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PONTOON_TIMER_CHILD=1", "GODEBUG=asynctimerchan=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("with asynctimerchan=1: %v\n%s", err, out)
	}
}
