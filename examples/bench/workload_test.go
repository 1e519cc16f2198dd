package main

import (
	"sync"
	"testing"
	"time"
)

func TestScheduleOpenLoop(t *testing.T) {
	if newSchedule(0) != nil {
		t.Fatal("rate 0 must mean closed loop (nil schedule)")
	}
	const rate = 2000 // one start every 500 µs
	s := newSchedule(rate)
	var mu sync.Mutex
	var got []time.Time
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				at := s.wait()
				if now := time.Now(); now.Before(at) {
					t.Errorf("wait returned at %v, before the start it handed out (%v)", now, at)
				}
				mu.Lock()
				got = append(got, at)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Every start is handed out once: 100 distinct slots 500 µs apart from
	// the schedule's creation, whoever took them.
	seen := map[time.Duration]bool{}
	for _, at := range got {
		off := at.Sub(s.start)
		if off%(time.Second/rate) != 0 || off < 0 || off >= 100*time.Second/rate {
			t.Fatalf("start at offset %v is not one of the 100 slots", off)
		}
		if seen[off] {
			t.Fatalf("slot %v handed out twice", off)
		}
		seen[off] = true
	}
	if len(seen) != 100 {
		t.Fatalf("%d slots handed out, want 100", len(seen))
	}
}
