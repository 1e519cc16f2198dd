package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// The stall probe.
//
// On the VM this benchmark was developed on, the whole guest stops for
// about 10 ms once every 100 ms of wall-clock time whenever it is busy with
// CPU and fsyncs together: most likely the host throttles it (a CPU quota
// whose budget the virtual disk's work also draws on; a spinning thread
// alone, or fsyncs alone, see no such stops), so a thread that only spins
// sees its clock jump. Every engine's tail latency under load then includes
// these stops, whatever it does: at 64 and 256 clients the p99 of every
// engine sits near them. The probe shows whether the machine does this: one
// thread spins and records the gaps in its clock while three writers (one
// per node) write 64 B + fdatasync in a loop, as a loaded cluster does.

// stallProbeDuration is how long the probe runs (at most the probes'
// budget).
const stallProbeDuration = 2 * time.Second

// stallGapMin is the shortest clock gap the probe counts as a stall: far
// above a scheduler tick or an interrupt on an idle core.
const stallGapMin = 5 * time.Millisecond

// stallGap is one jump of the spinning thread's clock: when it ended, and
// how long it was.
type stallGap struct {
	end time.Time
	len time.Duration
}

// stallStats summarises the gaps seen over a probe of the given length.
type stallStats struct {
	PerSec   float64 `json:"per_s"`     // gaps of at least stallGapMin per second
	MedianMs float64 `json:"median_ms"` // their median length
	PeriodMs float64 `json:"period_ms"` // median time from one gap's start to the next's
	Stalled  float64 `json:"stalled"`   // fraction of the probe lost in them
}

func summarizeStalls(gaps []stallGap, over time.Duration) stallStats {
	var s stallStats
	if over <= 0 {
		return s
	}
	var lens, periods []time.Duration
	var starts []time.Time
	var lost time.Duration
	for _, g := range gaps {
		if g.len < stallGapMin {
			continue
		}
		lens = append(lens, g.len)
		lost += g.len
		starts = append(starts, g.end.Add(-g.len))
	}
	for i := 1; i < len(starts); i++ {
		periods = append(periods, starts[i].Sub(starts[i-1]))
	}
	s.PerSec = float64(len(lens)) / over.Seconds()
	s.MedianMs = ms(median(lens))
	s.PeriodMs = ms(median(periods))
	s.Stalled = float64(lost) / float64(over)
	return s
}

// probeStalls spins one thread for dur while three writers fsync in dir,
// and returns the spinner's clock gaps of at least 1 ms, in order.
func probeStalls(ctx context.Context, dir string, dur time.Duration) ([]stallGap, error) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		path := filepath.Join(dir, fmt.Sprintf("probe.stall%d", i))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, err
		}
		defer os.Remove(path)
		defer f.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for off := int64(0); ctx.Err() == nil; off += int64(len(buf)) {
				if _, err := f.WriteAt(buf, off); err != nil {
					errs <- err
					return
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var gaps []stallGap
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		last := time.Now()
		for ctx.Err() == nil {
			now := time.Now()
			if d := now.Sub(last); d >= time.Millisecond {
				gaps = append(gaps, stallGap{end: now, len: d})
			}
			last = now
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		return gaps, err
	default:
	}
	return gaps, nil
}
