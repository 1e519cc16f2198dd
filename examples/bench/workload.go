package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// cellSpec is one measurement: kind "write" (Apply) or "read"
// (linearizable read), clients closed-loop clients, size value bytes.
type cellSpec struct {
	kind     string
	readPath string // for kind "read"
	clients  int
	size     int
	warmup   time.Duration
	dur      time.Duration
	timeout  time.Duration // how long a client may be stuck in one operation
	// rate > 0 (writes): open loop, requests scheduled rate a second and
	// timed from their scheduled start; clients bound those in flight.
	rate int
}

// cellResult is what one cell measured. Latencies are in milliseconds; CPU,
// allocations and RSS cover the whole process (3 nodes plus the clients).
type cellResult struct {
	Kind         string  `json:"kind"`
	ReadPath     string  `json:"read_path,omitempty"`
	Clients      int     `json:"clients"`
	Size         int     `json:"value_bytes"`
	Seconds      float64 `json:"seconds"`
	Ops          uint64  `json:"ops"`
	Errors       uint64  `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	OpsPerSec    float64 `json:"ops_per_sec"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	P999Ms       float64 `json:"p999_ms"`
	MeanMs       float64 `json:"mean_ms"`
	MaxMs        float64 `json:"max_ms"`
	CPUSecPer10k float64 `json:"cpu_sec_per_10k_ops"`
	AllocsPerOp  float64 `json:"allocs_per_op"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`      // VmRSS, bbolt's mmapped pages included
	PeakAnonMB   float64 `json:"peak_rss_anon_mb"` // RssAnon: heap, stacks, runtime
	Err          string  `json:"error,omitempty"`
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// keysPerClient bounds the FSM's size: each client cycles through its own
// keys, so the map holds at most clients*keysPerClient values.
const keysPerClient = 64

func clientKeys(client int) [][]byte {
	keys := make([][]byte, keysPerClient)
	for j := range keys {
		keys[j] = []byte(fmt.Sprintf("c%05dk%09d", client, j)) // 16 bytes
	}
	return keys
}

// runCell runs spec against cl. broken reports that clients were stuck and
// the cluster had to be closed to free them; the cluster is then unusable.
func runCell(ctx context.Context, cl cluster, spec cellSpec) (res cellResult, broken bool) {
	res = cellResult{Kind: spec.kind, ReadPath: spec.readPath, Clients: spec.clients, Size: spec.size}
	// Start each cell from a collected heap with free memory returned to
	// the OS, so its peak VmRSS is its own.
	debug.FreeOSMemory()
	var (
		phase    atomic.Int32
		hist     = new(histogram)
		errCount atomic.Uint64
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	value := make([]byte, spec.size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	sched := newSchedule(spec.rate)
	for c := 0; c < spec.clients; c++ {
		keys := clientKeys(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; phase.Load() != phaseStop; j++ {
				key := keys[j%len(keys)]
				t0 := time.Now()
				if sched != nil {
					t0 = sched.wait()
				}
				var err error
				if spec.kind == "read" {
					err = cl.read(spec.readPath, key)
				} else {
					// A fresh command per Apply: the engine keeps a
					// reference to it (log cache, in-flight batches).
					cmd := make([]byte, keyLen+len(value))
					copy(cmd, key)
					copy(cmd[keyLen:], value)
					err = cl.apply(cmd)
				}
				d := time.Since(t0)
				if phase.Load() != phaseMeasure {
					if err != nil {
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				if err != nil {
					errCount.Add(1)
					errOnce.Do(func() { res.FirstError = err.Error() })
					time.Sleep(10 * time.Millisecond)
					continue
				}
				hist.record(d)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	rss := startRSSSampler(100 * time.Millisecond)
	sleep(ctx, spec.warmup)
	cpu0, m0 := clusterCPU(cl), mallocs()
	t0 := time.Now()
	phase.Store(phaseMeasure)
	sleep(ctx, spec.dur)
	phase.Store(phaseStop)
	elapsed := time.Since(t0)
	cpu1, m1 := clusterCPU(cl), mallocs()
	peak := rss.finish()

	select {
	case <-done:
	case <-time.After(spec.timeout + 5*time.Second):
		broken = true
		res.Err = fmt.Sprintf("clients still blocked %v after the cell ended; cluster closed", spec.timeout+5*time.Second)
		cl.close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			res.Err += "; clients still blocked 30s after close"
		}
	}

	res.Seconds = elapsed.Seconds()
	res.Ops = hist.count()
	res.Errors = errCount.Load()
	res.OpsPerSec = float64(res.Ops) / elapsed.Seconds()
	res.P50Ms = ms(hist.quantile(0.50))
	res.P99Ms = ms(hist.quantile(0.99))
	res.P999Ms = ms(hist.quantile(0.999))
	res.MeanMs = ms(hist.mean())
	res.MaxMs = ms(time.Duration(hist.max.Load()))
	if res.Ops > 0 {
		res.CPUSecPer10k = (cpu1 - cpu0).Seconds() / float64(res.Ops) * 1e4
		res.AllocsPerOp = float64(m1-m0) / float64(res.Ops)
	} else if res.Err == "" {
		res.Err = "no operation completed"
		if res.FirstError != "" {
			res.Err += ": " + res.FirstError
		}
	}
	res.PeakRSSMB, res.PeakAnonMB = mb(peak.rss), mb(peak.anon)
	if ctx.Err() != nil && res.Err == "" {
		res.Err = "interrupted"
	}
	return res, broken
}

// soakResult is the memory-bound run: RSS sampled every 10 s.
type soakResult struct {
	Clients   int          `json:"clients"`
	Size      int          `json:"value_bytes"`
	Seconds   float64      `json:"seconds"`
	Ops       uint64       `json:"ops"`
	Errors    uint64       `json:"errors"`
	OpsPerSec float64      `json:"ops_per_sec"`
	Samples   []soakSample `json:"samples"`
	// Growth is the peak VmRSS of the last window over that of the first
	// (0-10 s); AnonGrowth the same for RssAnon.
	Growth     float64 `json:"rss_growth_last_window_over_first"`
	AnonGrowth float64 `json:"rss_anon_growth_last_window_over_first"`
	Err        string  `json:"error,omitempty"`
}

type soakSample struct {
	AtSec            float64   `json:"at_sec"`
	RSSMB            float64   `json:"rss_mb"`
	WindowPeakMB     float64   `json:"window_peak_rss_mb"` // peak VmRSS since the previous sample
	AnonMB           float64   `json:"rss_anon_mb"`
	WindowPeakAnonMB float64   `json:"window_peak_rss_anon_mb"`
	HeapMB           float64   `json:"heap_inuse_mb"`
	FileMB           float64   `json:"rss_file_mb"` // RssFile: mapped files' resident pages
	OpsSoFar         uint64    `json:"ops"`
	Goroutine        int       `json:"goroutines"`
	Store            soakProbe `json:"store"`
}

// runSoak drives spec.clients writers for spec.dur (no warm-up), sampling
// RSS every 10 s and at the end. progress, if not nil, sees each sample.
// dir is the engine's data directory, which the samples measure.
func runSoak(ctx context.Context, cl cluster, spec cellSpec, dir string, progress func(soakSample)) (res soakResult, broken bool) {
	res = soakResult{Clients: spec.clients, Size: spec.size}
	var (
		stop     atomic.Bool
		ops      atomic.Uint64
		errCount atomic.Uint64
		errOnce  sync.Once
		firstErr string
		wg       sync.WaitGroup
	)
	value := make([]byte, spec.size)
	for c := 0; c < spec.clients; c++ {
		keys := clientKeys(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stop.Load(); j++ {
				cmd := make([]byte, keyLen+len(value))
				copy(cmd, keys[j%len(keys)])
				copy(cmd[keyLen:], value)
				if err := cl.apply(cmd); err != nil {
					errCount.Add(1)
					errOnce.Do(func() { firstErr = err.Error() })
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ops.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// RSS is sampled every 250 ms; every 10 s (and at the end) a sample
	// records the current RSS and the peak of the window since the last
	// one, which is what Growth compares (a single reading is at the mercy
	// of where the GC cycle is).
	t0 := time.Now()
	var window peaks
	sample := func() {
		m := procStatus()
		window.sample()
		s := soakSample{AtSec: time.Since(t0).Seconds(), RSSMB: mb(m.rss), WindowPeakMB: mb(window.rss),
			AnonMB: mb(m.anon), WindowPeakAnonMB: mb(window.anon), FileMB: mb(m.file),
			HeapMB: mb(heapInuse()), OpsSoFar: ops.Load(), Goroutine: numGoroutine(),
			Store: probeSoak(cl, dir)}
		window = peaks{}
		res.Samples = append(res.Samples, s)
		if progress != nil {
			progress(s)
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	end := time.NewTimer(spec.dur)
	next := 10 * time.Second
loop:
	for {
		select {
		case <-tick.C:
			window.sample()
			if el := time.Since(t0); el >= next && el < spec.dur-time.Second {
				sample()
				next += 10 * time.Second
			}
		case <-end.C:
			break loop
		case <-ctx.Done():
			res.Err = "interrupted"
			break loop
		}
	}
	tick.Stop()
	end.Stop()
	sample()
	stop.Store(true)
	elapsed := time.Since(t0)
	select {
	case <-done:
	case <-time.After(spec.timeout + 5*time.Second):
		broken = true
		res.Err = "clients still blocked after the soak ended; cluster closed"
		cl.close()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	}
	res.Seconds = elapsed.Seconds()
	res.Ops = ops.Load()
	res.Errors = errCount.Load()
	res.OpsPerSec = float64(res.Ops) / elapsed.Seconds()
	if n := len(res.Samples); n >= 2 && res.Samples[0].WindowPeakMB > 0 && res.Samples[0].WindowPeakAnonMB > 0 {
		res.Growth = res.Samples[n-1].WindowPeakMB / res.Samples[0].WindowPeakMB
		res.AnonGrowth = res.Samples[n-1].WindowPeakAnonMB / res.Samples[0].WindowPeakAnonMB
	}
	if res.Ops == 0 && res.Err == "" {
		res.Err = "no operation completed: " + firstErr
	}
	return res, broken
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// schedule hands out the start times of an open-loop workload: one every
// 1/rate seconds from its creation, each to one taker, in order. A request
// is timed from its scheduled start, so one that starts late because every
// client was busy counts its wait (no coordinated omission).
type schedule struct {
	start    time.Time
	interval time.Duration
	next     atomic.Int64
}

// newSchedule returns nil for rate 0 (closed loop).
func newSchedule(rate int) *schedule {
	if rate <= 0 {
		return nil
	}
	return &schedule{start: time.Now(), interval: time.Second / time.Duration(rate)}
}

// wait blocks until the next unclaimed start time and returns it.
func (s *schedule) wait() time.Time {
	at := s.start.Add(time.Duration(s.next.Add(1)-1) * s.interval)
	if d := time.Until(at); d > 0 {
		time.Sleep(d)
	}
	return at
}
