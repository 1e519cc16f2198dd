package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mallocs is the number of heap objects allocated so far. ReadMemStats
// stops the world briefly; it is called only at phase boundaries.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// procStatus returns VmRSS and VmHWM from /proc/self/status in bytes (0 when
// unavailable, e.g. not on Linux).
func procStatus() (rss, hwm uint64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		var dst *uint64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			if kb, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
				*dst = kb << 10
			}
		}
	}
	return rss, hwm
}

// rssSampler samples VmRSS every interval and keeps the maximum.
type rssSampler struct {
	stop chan struct{}
	done chan uint64
}

func startRSSSampler(interval time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		peak, _ := procStatus()
		for {
			select {
			case <-s.stop:
				if r, _ := procStatus(); r > peak {
					peak = r
				}
				s.done <- peak
				return
			case <-t.C:
				if r, _ := procStatus(); r > peak {
					peak = r
				}
			}
		}
	}()
	return s
}

// finish stops the sampler and returns the peak VmRSS seen, in bytes.
func (s *rssSampler) finish() uint64 {
	close(s.stop)
	return <-s.done
}

func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func numGoroutine() int { return runtime.NumGoroutine() }
