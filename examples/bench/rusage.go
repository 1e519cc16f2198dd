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

// memStatus is the process's memory from /proc/self/status, in bytes (0
// when unavailable, e.g. not on Linux). VmRSS counts bbolt's mmapped file
// pages too (RssFile), which grow with the log files of both engines alike;
// RssAnon is the engine's own memory (Go heap, stacks, runtime).
type memStatus struct {
	rss, anon, file, hwm uint64
}

func procStatus() memStatus {
	var m memStatus
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		var dst *uint64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.rss
		case strings.HasPrefix(line, "RssAnon:"):
			dst = &m.anon
		case strings.HasPrefix(line, "RssFile:"):
			dst = &m.file
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.hwm
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
	return m
}

// peaks keeps the maxima of VmRSS and RssAnon over samples.
type peaks struct{ rss, anon uint64 }

func (p *peaks) sample() {
	m := procStatus()
	p.rss = max(p.rss, m.rss)
	p.anon = max(p.anon, m.anon)
}

// rssSampler samples memory every interval and keeps the peaks.
type rssSampler struct {
	stop chan struct{}
	done chan peaks
}

func startRSSSampler(interval time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan peaks, 1)}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		var p peaks
		p.sample()
		for {
			select {
			case <-s.stop:
				p.sample()
				s.done <- p
				return
			case <-t.C:
				p.sample()
			}
		}
	}()
	return s
}

// finish stops the sampler and returns the peaks seen.
func (s *rssSampler) finish() peaks {
	close(s.stop)
	return <-s.done
}

func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func numGoroutine() int { return runtime.NumGoroutine() }
