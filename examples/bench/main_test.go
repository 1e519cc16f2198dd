package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(nodeEnv); spec != "" {
		runChildNode(spec) // a node of TestTinyRunProcs's cluster
		os.Exit(0)
	}
	// Every cluster is shut down and its transports' streams closed, so
	// neither engine nor bbolt should leave a goroutine behind.
	goleak.VerifyTestMain(m)
}

// TestTinyRun runs the whole harness in its smallest configuration and
// checks that every engine's rows are there with operations.
func TestTinyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three 3-node clusters on disk")
	}
	c := config{
		engines:      []string{pName, hName, wName},
		clients:      []int{1},
		sizes:        []int{16},
		readers:      []int{2},
		warmup:       100 * time.Millisecond,
		dur:          300 * time.Millisecond,
		timeout:      10 * time.Second,
		elect:        15 * time.Second,
		probeSamples: 5,
		dir:          t.TempDir(),
		logLevel:     "ERROR",
		pontoonReads: []string{"verify", "readindex", "lease", "follower-readindex"},
	}
	// NB: locked: hashicorp's transport may still log from a connection
	// goroutine while its cluster shuts down.
	progress := &lockedBuffer{}
	rep, err := run(context.Background(), c, progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s", progress.String())
	var table bytes.Buffer
	printReport(&table, rep)
	t.Logf("report:\n%s", table.String())
	if _, err := json.Marshal(rep); err != nil {
		t.Fatalf("json: %v", err)
	}
	if rep.Limits.BoltCommitSamples == 0 || rep.Limits.TCPRTTSamples == 0 {
		t.Errorf("machine probes took no samples: %+v", rep.Limits)
	}
	if !strings.Contains(table.String(), "ops/s P") || !strings.Contains(table.String(), "ops/s H") ||
		!strings.Contains(table.String(), "ops/s W") || !strings.Contains(table.String(), "P/W") {
		t.Errorf("table lacks a column per engine")
	}
	byName := map[string]*engineResult{}
	for i := range rep.Engines {
		byName[rep.Engines[i].Engine] = &rep.Engines[i]
	}
	check := func(t *testing.T, e *engineResult) {
		if e == nil {
			t.Fatal("engine missing from the report")
		}
		if e.Err != "" {
			t.Fatalf("error: %s", e.Err)
		}
		if len(e.Writes) != 1 || e.Writes[0].Ops == 0 {
			t.Errorf("writes: %+v", e.Writes)
		}
		if len(e.Reads) != len(e.ReadPaths) || len(e.Reads) == 0 {
			t.Errorf("reads: %+v", e.Reads)
		}
		for _, r := range e.Reads {
			if r.Ops == 0 {
				t.Errorf("read path %s: no reads: %+v", r.ReadPath, r)
			}
		}
		if e.GoroutinesLeft != 0 {
			t.Errorf("%d goroutines left after shutdown", e.GoroutinesLeft)
		}
		if e.ShutdownErr != "" {
			t.Errorf("shutdown: %s", e.ShutdownErr)
		}
	}
	t.Run(hName, func(t *testing.T) { check(t, byName[hName]) })
	t.Run(wName, func(t *testing.T) { check(t, byName[wName]) })
	t.Run(pName, func(t *testing.T) {
		if e := byName[pName]; e != nil && errors.Is(e.startErr, errNoLeader) {
			t.Skipf("Pontoon's engine elected no leader over TCP yet (%s); its row is reported as an error", e.Err)
		}
		check(t, byName[pName])
	})
}

// TestTinyRunProcs runs the harness with node2 and node3 in child
// processes (this test binary re-executed) for every engine.
func TestTinyRunProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three 3-node clusters on disk, two nodes each in child processes")
	}
	c := config{
		engines:      []string{pName, hName, wName},
		clients:      []int{4},
		sizes:        []int{16},
		readers:      []int{2},
		warmup:       100 * time.Millisecond,
		dur:          300 * time.Millisecond,
		timeout:      10 * time.Second,
		elect:        30 * time.Second,
		probeSamples: 5,
		dir:          t.TempDir(),
		logLevel:     "ERROR",
		pontoonReads: []string{"verify", "readindex", "follower-readindex"},
		procs:        true,
	}
	progress := &lockedBuffer{}
	rep, err := run(context.Background(), c, progress)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	printReport(&table, rep)
	t.Logf("report:\n%s", table.String())
	if !strings.Contains(table.String(), "mode: multi-process") {
		t.Errorf("report does not say it ran in multi-process mode")
	}
	for _, e := range rep.Engines {
		if e.Err != "" {
			t.Fatalf("%s: %s\n%s", e.Engine, e.Err, progress.String())
		}
		if len(e.Writes) != 1 || e.Writes[0].Ops == 0 || len(e.Reads) == 0 {
			t.Errorf("%s: writes %+v reads %+v", e.Engine, e.Writes, e.Reads)
		}
		if e.ShutdownErr != "" {
			t.Errorf("%s: shutdown: %s", e.Engine, e.ShutdownErr)
		}
		if e.GoroutinesLeft != 0 {
			t.Errorf("%s: %d goroutines left after shutdown", e.Engine, e.GoroutinesLeft)
		}
		for _, p := range e.ReadPaths {
			if p.inProcess {
				t.Errorf("%s: read path %s ran in -procs mode", e.Engine, p.Name)
			}
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (the engines'
// loggers and the children's copied stderr).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHistogram(t *testing.T) {
	h := new(histogram)
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < 0 || d > 1.0/subCount {
			t.Errorf("quantile(%v) = %v, want %v within %.2f%% above", c.q, got, c.want, 100.0/subCount)
		}
	}
	if h.count() != 10000 {
		t.Errorf("count %d", h.count())
	}
	for v := uint64(0); v < 1<<20; v = v*3/2 + 1 {
		if b := bucketOf(v); bucketHigh(b) < v || (b > 0 && bucketHigh(b-1) >= v) {
			t.Fatalf("value %d in bucket %d [.., %d], previous ends %d", v, b, bucketHigh(b), bucketHigh(b-1))
		}
	}
}

func TestParseInts(t *testing.T) {
	got, err := parseInts("16, 1KiB,2k,64B", true)
	if err != nil || len(got) != 4 || got[0] != 16 || got[1] != 1024 || got[2] != 2048 || got[3] != 64 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := parseInts("x", false); err == nil {
		t.Fatal("want an error")
	}
}

func TestCombineRounds(t *testing.T) {
	if got := roundOrder([]string{"a", "b"}, 1); got[0] != "b" || got[1] != "a" {
		t.Fatalf("odd round order %v", got)
	}
	cell := func(ops, p99 float64) cellResult {
		return cellResult{Kind: "write", Size: 16, Clients: 1, Ops: uint64(ops), OpsPerSec: ops, P99Ms: p99}
	}
	rs := []engineResult{
		{Engine: pName, Writes: []cellResult{cell(100, 3)}},
		{Engine: pName, Writes: []cellResult{cell(300, 1)}},
		{Engine: pName, Writes: []cellResult{{Kind: "write", Size: 16, Clients: 1, Err: "boom"}}},
		{Engine: pName, Writes: []cellResult{cell(200, 2)}},
	}
	got := combineRounds(rs)
	if len(got.Writes) != 1 || got.Writes[0].OpsPerSec != 200 || got.Writes[0].P99Ms != 2 || got.Writes[0].Err != "" {
		t.Fatalf("combined %+v", got.Writes)
	}
	if len(got.Rounds) != 4 {
		t.Fatalf("rounds kept: %d", len(got.Rounds))
	}
}

// -interleave runs every cell on each engine in turn, alternating the order
// from cell to cell (reversed on odd rounds), and joins each engine's
// one-cell runs into one result with the cells in order.
func TestInterleaved(t *testing.T) {
	c := config{engines: []string{pName, hName, wName}, sizes: []int{16, 1024}, clients: []int{1, 64}, readers: []int{16}}
	plans := cellPlans(c)
	if n := len(plans); n != 5 {
		t.Fatalf("%d cell plans for 2 sizes × 2 client counts + 1 reader count, want 5", n)
	}
	for _, p := range plans {
		if p.prefillSize() != 16 {
			t.Errorf("cell %v/%v prefills with %d B values, want the run's first size, 16", p.sizes, p.clients, p.prefillSize())
		}
	}
	var calls []string
	run := func(name string, cell config) engineResult {
		calls = append(calls, name)
		res := engineResult{Engine: name, StartupSec: float64(len(calls))}
		for _, size := range cell.sizes {
			for _, n := range cell.clients {
				res.Writes = append(res.Writes, cellResult{Kind: "write", Size: size, Clients: n, Ops: 1})
			}
		}
		for _, n := range cell.readers {
			res.Reads = append(res.Reads, cellResult{Kind: "read", ReadPath: "verify", Size: cell.sizes[0], Clients: n, Ops: 1})
		}
		if name == hName && len(res.Reads) > 0 {
			res.Err = "boom"
		}
		return res
	}
	got := runInterleaved(context.Background(), c, 1, run)
	want := []string{wName, hName, pName, pName, hName, wName, wName, hName, pName, pName, hName, wName, wName, hName, pName}
	if strings.Join(calls, ",") != strings.Join(want, ",") {
		t.Fatalf("order %v\nwant  %v", calls, want)
	}
	for _, name := range c.engines {
		e := got[name]
		if len(e.Writes) != 4 || len(e.Reads) != 1 {
			t.Fatalf("%s: %d write and %d read cells, want 4 and 1", name, len(e.Writes), len(e.Reads))
		}
		if w := e.Writes; w[0].Size != 16 || w[1].Clients != 64 || w[2].Size != 1024 || w[3].Clients != 64 {
			t.Errorf("%s: cells out of order: %+v", name, w)
		}
		if (e.Err != "") != (name == hName) {
			t.Errorf("%s: error %q", name, e.Err)
		}
	}
	if s := got[pName].StartupSec; s != 9 {
		t.Errorf("median start-up %v, want 9 (calls 3, 4, 9, 10, 15)", s)
	}
}
