// Command bench runs Pontoon and hashicorp/raft (on raft-boltdb/v2 and on
// raft-wal) side by side on the same workload and prints tables with ratios
// (Pontoon/HashiCorp on each store).
//
// Each engine runs a 3-node cluster in this process: a TCP transport on
// 127.0.0.1, a bbolt log store on disk with fsync on, the same KV FSM.
// Closed-loop clients Apply on the leader and wait for the future. The two
// engines run one after the other; each cluster is shut down and its
// goroutines gone before the next starts.
//
//	go run . -quick                 # ~30 s smoke run (CI)
//	go run .                        # C ∈ {1,16,64,256} × {16 B, 1 KiB}, 10 s per cell
//	go run . -json > out.json       # machine-readable
//	go run . -soak 60s              # memory-bound: 256 clients, RSS at 10 s and at the end
//	go run . -engines pontoon -cpuprofile cpu.out -memprofile mem.out
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is everything a run needs; flags fill it.
type config struct {
	engines      []string
	clients      []int
	sizes        []int
	readers      []int
	warmup       time.Duration
	dur          time.Duration
	timeout      time.Duration
	elect        time.Duration
	dir          string
	keep         bool
	basePort     int
	probeSamples int
	soak         time.Duration
	soakClients  int
	cpuprofile   string
	trace        string
	memprofile   string
	quick        bool
	logLevel     string
	bootstrapOne bool
	procs        bool
	ptStore      string // -pontoon-store
	rounds       int
	interleave   bool
	prefill      time.Duration
	// rate > 0 runs the write cells open-loop at rate requests a second
	// (-rate); the clients are then the most in flight at once.
	rate int
	// allSizes is -sizes when sizes was narrowed to one cell's (-interleave).
	allSizes     []int
	pontoonReads []string
}

// report is the whole output; -json prints it as is.
type report struct {
	Machine     machineInfo    `json:"machine"`
	Limits      limits         `json:"limits"`
	Config      reportConfig   `json:"config"`
	Engines     []engineResult `json:"engines"`
	Goals       []goal         `json:"goals,omitempty"`
	Interrupted bool           `json:"interrupted,omitempty"`
}

type reportConfig struct {
	Engines    []string `json:"engines"`
	Clients    []int    `json:"clients"`
	Sizes      []int    `json:"value_bytes"`
	Readers    []int    `json:"readers"`
	WarmupSec  float64  `json:"warmup_sec"`
	CellSec    float64  `json:"cell_sec"`
	SoakSec    float64  `json:"soak_sec,omitempty"`
	SoakClient int      `json:"soak_clients,omitempty"`
	Quick      bool     `json:"quick"`
	// Rounds > 1: each engine ran that many times, the order alternating
	// between rounds; each cell's figures are medians over the rounds.
	Rounds int `json:"rounds"`
	// Procs: node2 and node3 ran in processes of their own (-procs).
	Procs bool `json:"procs,omitempty"`
	// Interleave: every cell ran on each engine in turn, on a cluster of
	// its own (-interleave), rather than each engine running every cell.
	Interleave bool `json:"interleave,omitempty"`
	// PrefillSec: each cluster first took this long of unmeasured writes
	// (-prefill), so the cells ran on a grown log.
	PrefillSec float64 `json:"prefill_sec,omitempty"`
	// PontoonStore is Pontoon's log store (-pontoon-store); empty in
	// reports from before the flag: bolt.
	PontoonStore string `json:"pontoon_store,omitempty"`
	// Rate > 0: the write cells ran open-loop at Rate requests a second
	// (-rate), Clients being the most in flight at once.
	Rate int `json:"rate_per_sec,omitempty"`
}

type engineResult struct {
	Engine         string       `json:"engine"`
	ReadPaths      []readPath   `json:"read_paths"`
	Err            string       `json:"error,omitempty"`
	StartupSec     float64      `json:"startup_sec"`
	Writes         []cellResult `json:"writes"`
	Reads          []cellResult `json:"reads"`
	Soak           *soakResult  `json:"soak,omitempty"`
	ShutdownErr    string       `json:"shutdown_error,omitempty"`
	GoroutinesLeft int          `json:"goroutines_left"`
	VmHWMMB        float64      `json:"vm_hwm_mb_after"` // process-wide, monotonic

	// Rounds holds each round's own result when there was more than one.
	Rounds []engineResult `json:"rounds,omitempty"`

	startErr error // the cluster's start error, for errors.Is
}

var engines = map[string]engine{
	pontoonEngine.name:      pontoonEngine,
	hashicorpEngine.name:    hashicorpEngine,
	hashicorpWALEngine.name: hashicorpWALEngine,
}

func main() {
	startStages()
	if spec := os.Getenv(nodeEnv); spec != "" {
		runChildNode(spec) // this process is one node of a -procs cluster
		return
	}
	defer writeStages("leader")
	var (
		c                             config
		jsonOut                       bool
		engs, clients, sizes, readers string
		from, pontoonReads            string
	)
	flag.BoolVar(&jsonOut, "json", false, "print the report as JSON on stdout (progress still goes to stderr)")
	flag.BoolVar(&c.quick, "quick", false, "smoke run (~30-40 s): C ∈ {1,16}, 16 B, 2 s per cell, 16 readers, Pontoon reads verify and lease")
	flag.DurationVar(&c.dur, "duration", 10*time.Second, "measured time per cell")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "warm-up before each cell")
	flag.StringVar(&clients, "clients", "1,16,64,256", "closed-loop writer counts")
	flag.StringVar(&sizes, "sizes", "16,1KiB", "value sizes (bytes; suffix KiB or k allowed)")
	flag.StringVar(&readers, "readers", "16,64", "linearizable reader counts (empty: no read cells)")
	flag.StringVar(&engs, "engines", "pontoon,hashicorp,hashicorp-wal", "engines to run, in order (pontoon, hashicorp = on raft-boltdb/v2, hashicorp-wal = on raft-wal)")
	flag.StringVar(&c.dir, "dir", "", "data directory (default: a temp dir on the repo's disk, removed afterwards)")
	flag.BoolVar(&c.keep, "keep", false, "keep the data directory")
	flag.IntVar(&c.basePort, "port", 0, "first TCP port on 127.0.0.1 (nodes use port..port+2); 0: ephemeral")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Second, "Apply and transport timeout")
	flag.DurationVar(&c.elect, "elect-timeout", 20*time.Second, "how long to wait for the first leader")
	flag.IntVar(&c.probeSamples, "probe-samples", 200, "samples per machine probe (fsync, raw sync; RTT takes 10×)")
	flag.DurationVar(&c.soak, "soak", 0, "memory-bound mode: run this long at -soak-clients writers and print RSS every 10 s (skips the cells)")
	flag.IntVar(&c.soakClients, "soak-clients", 256, "writers in -soak mode")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the Pontoon run to this file (with -procs the node processes also write <file>.node2 and <file>.node3)")
	flag.StringVar(&c.trace, "trace", "", "write an execution trace of the Pontoon run to this file (go tool trace)")
	flag.StringVar(&c.memprofile, "memprofile", "", "write an allocation profile after the Pontoon run to this file")
	flag.StringVar(&c.logLevel, "loglevel", "WARN", "log level of the engines' loggers (stderr)")
	flag.StringVar(&pontoonReads, "pontoon-reads", "verify,readindex,lease", "Pontoon's read paths to measure: verify (VerifyLeader), readindex (ReadIndex), lease (LeaseRead, on a cluster of its own with LeaseReads=true), follower-readindex (ReadIndex on a follower; in-process mode only)")
	flag.StringVar(&from, "from", "", "print the text report of a saved -json output and exit")
	flag.IntVar(&c.rounds, "rounds", 1, "run each engine this many times, alternating the order; report per-cell medians")
	flag.BoolVar(&c.interleave, "interleave", false, "run each cell on every engine in turn (a fresh cluster per engine and cell, the order alternating from cell to cell) instead of each engine running all cells, so a cell's engines run seconds apart, not minutes, on a machine whose speed drifts")
	flag.DurationVar(&c.prefill, "prefill", 0, "before its cells, write to each cluster this long, unmeasured (64 clients, the first value size of the run), so the cells run on a grown log; with -interleave, per cell")
	flag.BoolVar(&c.bootstrapOne, "bootstrap-one", false, "bootstrap node1 only (default: every node with the same configuration)")
	flag.StringVar(&c.ptStore, "pontoon-store", "bolt", "Pontoon's log store: bolt (logstore.BoltStore, the default) or segment (logstore.SegmentStore)")
	flag.IntVar(&c.rate, "rate", 0, "run the write cells open-loop: requests start at this many a second, on schedule (latency counts from the scheduled start), with at most -clients in flight; 0: closed loop")
	flag.BoolVar(&c.procs, "procs", false, "run node2 and node3 in processes of their own (node1, the leader, stays here with the clients); CPU/op includes theirs")
	flag.Parse()

	if from != "" {
		if err := printSaved(os.Stdout, from); err != nil {
			fatalf("-from: %v", err)
		}
		return
	}
	var err error
	if c.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["clients"] {
			clients = "1,16"
		}
		if !set["sizes"] {
			sizes = "16"
		}
		if !set["readers"] {
			readers = "16"
		}
		if !set["duration"] {
			c.dur = 2 * time.Second
		}
		if !set["warmup"] {
			c.warmup = 500 * time.Millisecond
		}
		if !set["pontoon-reads"] {
			pontoonReads = "verify,lease"
		}
		if !set["probe-samples"] {
			c.probeSamples = 50
		}
	}
	if c.clients, err = parseInts(clients, false); err != nil {
		fatalf("-clients: %v", err)
	}
	if c.sizes, err = parseInts(sizes, true); err != nil {
		fatalf("-sizes: %v", err)
	}
	if c.readers, err = parseInts(readers, false); err != nil {
		fatalf("-readers: %v", err)
	}
	for _, p := range strings.Split(pontoonReads, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		ok := false
		for _, rp := range pontoonEngine.readPaths {
			ok = ok || rp.Name == p
		}
		if !ok {
			fatalf("-pontoon-reads: unknown read path %q (verify, readindex, lease, follower-readindex)", p)
		}
		c.pontoonReads = append(c.pontoonReads, p)
	}
	for _, e := range strings.Split(engs, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if _, ok := engines[e]; !ok {
			fatalf("-engines: unknown engine %q (pontoon, hashicorp, hashicorp-wal)", e)
		}
		c.engines = append(c.engines, e)
	}
	if len(c.engines) == 0 {
		fatalf("-engines: none given")
	}
	if c.rate < 0 {
		fatalf("-rate: must not be negative")
	}
	if c.interleave && (c.soak > 0 || c.cpuprofile != "" || c.trace != "" || c.memprofile != "") {
		fatalf("-interleave: not with -soak, -cpuprofile, -trace or -memprofile (they cover one engine's whole run)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process
		fmt.Fprintln(os.Stderr, "bench: interrupted; shutting down the running cluster (Ctrl-C again to kill)")
	}()

	rep, err := run(ctx, c, os.Stderr)
	if err != nil {
		fatalf("%v", err)
	}
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printReport(os.Stdout, rep)
	}
	if rep.Interrupted {
		os.Exit(130)
	}
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

// parseInts parses "1,16,64"; with sizes, "1KiB", "1k" and "16B" too.
func parseInts(s string, sizes bool) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		mult := 1
		if sizes {
			lf := strings.ToLower(f)
			switch {
			case strings.HasSuffix(lf, "kib"):
				mult, lf = 1024, strings.TrimSuffix(lf, "kib")
			case strings.HasSuffix(lf, "k"):
				mult, lf = 1024, strings.TrimSuffix(lf, "k")
			case strings.HasSuffix(lf, "b"):
				lf = strings.TrimSuffix(lf, "b")
			}
			f = lf
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad value %q", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

// run probes the machine, then runs each engine in turn. Progress goes to
// progress; the engines' own WARN logs go there too.
func run(ctx context.Context, c config, progress io.Writer) (*report, error) {
	dir, cleanup, err := dataDir(c.dir, c.keep)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	rep := &report{
		Machine: describeMachine(dir),
		Config: reportConfig{Engines: c.engines, Clients: c.clients, Sizes: c.sizes, Readers: c.readers,
			WarmupSec: c.warmup.Seconds(), CellSec: c.dur.Seconds(), Quick: c.quick, Procs: c.procs, PontoonStore: c.ptStore},
	}
	if c.soak > 0 {
		rep.Config.SoakSec, rep.Config.SoakClient = c.soak.Seconds(), c.soakClients
	}
	fmt.Fprintf(progress, "bench: probing the machine (data dir %s)\n", dir)
	rep.Limits = probeLimits(ctx, dir, c.probeSamples, 5*time.Second)
	fmt.Fprintf(progress, "bench: bbolt commit %.3f ms, write+fsync %.3f ms, loopback RTT %.3f ms, floor %.3f ms, shared-disk floor %.3f ms, stalls %.1f/s of %.1f ms\n",
		rep.Limits.BoltCommitMedianMs, rep.Limits.RawSyncMedianMs, rep.Limits.TCPRTTMedianMs, rep.Limits.FloorMs, rep.Limits.SharedDiskFloorMs,
		rep.Limits.Stalls.PerSec, rep.Limits.Stalls.MedianMs)

	rounds := c.rounds
	if rounds < 1 {
		rounds = 1
	}
	perEngine := map[string][]engineResult{}
	for r := 0; c.interleave && r < rounds && ctx.Err() == nil; r++ {
		if rounds > 1 {
			fmt.Fprintf(progress, "bench: round %d of %d, cells interleaved\n", r+1, rounds)
		}
		for name, res := range runInterleaved(ctx, c, r, func(name string, cell config) engineResult {
			return runEngine(ctx, engines[name], cell, dir, progress)
		}) {
			perEngine[name] = append(perEngine[name], res)
		}
	}
	for r := 0; !c.interleave && r < rounds && ctx.Err() == nil; r++ {
		order := roundOrder(c.engines, r)
		if rounds > 1 {
			fmt.Fprintf(progress, "bench: round %d of %d: %s\n", r+1, rounds, strings.Join(order, ", "))
		}
		for _, name := range order {
			if ctx.Err() != nil {
				break
			}
			perEngine[name] = append(perEngine[name], runEngine(ctx, engines[name], c, dir, progress))
		}
	}
	for _, name := range c.engines {
		if rs := perEngine[name]; len(rs) > 0 {
			rep.Engines = append(rep.Engines, combineRounds(rs))
		}
	}
	rep.Config.Rounds = rounds
	rep.Config.Interleave = c.interleave
	rep.Config.PrefillSec = c.prefill.Seconds()
	rep.Config.Rate = c.rate
	rep.Interrupted = ctx.Err() != nil
	rep.Goals = evalGoals(rep)
	return rep, nil
}

// dataDir returns the directory to run in and a function removing what the
// run created. The default is a temp dir, on the repo's disk when the
// system temp dir is elsewhere.
func dataDir(dir string, keep bool) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		sub, err := os.MkdirTemp(dir, "bench-")
		if err != nil {
			return "", nil, err
		}
		return sub, func() {
			if !keep {
				os.RemoveAll(sub)
			}
		}, nil
	}
	parent := os.TempDir()
	if !sameDevice(parent, ".") {
		parent = "."
	}
	sub, err := os.MkdirTemp(parent, "pontoon-bench-")
	if err != nil {
		return "", nil, err
	}
	if abs, err := filepath.Abs(sub); err == nil {
		sub = abs
	}
	return sub, func() {
		if !keep {
			os.RemoveAll(sub)
		}
	}, nil
}

func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	if syscall.Stat(a, &sa) != nil || syscall.Stat(b, &sb) != nil {
		return true
	}
	return sa.Dev == sb.Dev
}

// runEngine starts eng's cluster, runs every cell (or the soak), shuts the
// cluster down and waits for its goroutines to go. Any failure ends up in
// the result, never in a panic or an early exit.
func runEngine(ctx context.Context, eng engine, c config, dir string, progress io.Writer) (res engineResult) {
	res = engineResult{Engine: eng.name}
	for _, p := range eng.readPaths {
		if eng.name != pontoonEngine.name || contains(c.pontoonReads, p.Name) {
			if p.inProcess && c.procs {
				fmt.Fprintf(progress, "bench: %s: read path %s skipped: in-process mode only\n", eng.name, p.Name)
				continue
			}
			res.ReadPaths = append(res.ReadPaths, p)
		}
	}
	edir := filepath.Join(dir, eng.name)
	os.RemoveAll(edir)
	defer os.RemoveAll(edir)

	if eng.name == pontoonEngine.name {
		// Profile and trace cover the Pontoon run only.
		for _, rec := range []struct {
			name, path string
			start      func(io.Writer) error
			stop       func()
		}{
			{"cpuprofile", c.cpuprofile, pprof.StartCPUProfile, pprof.StopCPUProfile},
			{"trace", c.trace, trace.Start, trace.Stop},
		} {
			if rec.path == "" {
				continue
			}
			stop, err := record(rec.path, rec.start, rec.stop)
			if err != nil {
				res.Err = rec.name + ": " + err.Error()
				return res
			}
			defer stop()
		}
	}

	// Return the previous engine's memory to the OS so VmRSS is this
	// engine's own.
	debug.FreeOSMemory()
	// Taken after the profiler's goroutine started: it stops only after
	// the leftover check.
	baseline := runtime.NumGoroutine()
	fmt.Fprintf(progress, "bench: %s: starting a 3-node cluster\n", eng.name)
	t0 := time.Now()
	var childProf string // the children of a profiled Pontoon run profile themselves
	if eng.name == pontoonEngine.name {
		childProf = c.cpuprofile
	}
	cl, err := startSafely(eng, clusterOpts{dir: edir, basePort: c.basePort, timeout: c.timeout, elect: c.elect, logw: progress, logLevel: c.logLevel, bootstrapOne: c.bootstrapOne, procs: c.procs, cpuprofile: childProf, ptStore: c.ptStore})
	res.StartupSec = time.Since(t0).Seconds()
	if err != nil {
		res.Err, res.startErr = err.Error(), err
		fmt.Fprintf(progress, "bench: %s: %v\n", eng.name, err)
	} else {
		closed := false
		broken := false
		if c.soak > 0 {
			spec := cellSpec{kind: "write", clients: c.soakClients, size: c.sizes[0], dur: c.soak, timeout: c.timeout}
			fmt.Fprintf(progress, "bench: %s: soak %v, %d clients, %d B\n", eng.name, c.soak, spec.clients, spec.size)
			s, b := runSoak(ctx, cl, spec, edir, func(s soakSample) { logSoakSample(progress, eng.name, s) })
			res.Soak, broken = &s, b
		} else {
			if c.prefill > 0 && ctx.Err() == nil {
				// The run's first size, not the cell's: -interleave's
				// one-cell configs keep the whole list for this.
				fmt.Fprintf(progress, "bench: %s: prefill: %v of writes, unmeasured\n", eng.name, c.prefill)
				_, broken = runCell(ctx, cl, cellSpec{kind: "write", clients: prefillClients, size: c.prefillSize(),
					dur: c.prefill, timeout: c.timeout})
			}
			for _, size := range c.sizes {
				for _, n := range c.clients {
					if ctx.Err() != nil || broken {
						break
					}
					var r cellResult
					r, broken = runCell(ctx, cl, cellSpec{kind: "write", clients: n, size: size, rate: c.rate,
						warmup: c.warmup, dur: c.dur, timeout: c.timeout})
					res.Writes = append(res.Writes, r)
					logCell(progress, eng.name, r)
				}
			}
			readCells := func(lease bool) {
				for _, p := range res.ReadPaths {
					for _, n := range c.readers {
						if p.lease != lease || ctx.Err() != nil || broken {
							continue
						}
						var r cellResult
						r, broken = runCell(ctx, cl, cellSpec{kind: "read", readPath: p.Name, clients: n, size: c.sizes[0],
							warmup: c.warmup, dur: c.dur, timeout: c.timeout})
						res.Reads = append(res.Reads, r)
						logCell(progress, eng.name, r)
					}
				}
			}
			readCells(false)
			if needsLease(res.ReadPaths) && len(c.readers) > 0 && !broken && ctx.Err() == nil {
				// Lease reads need a cluster started with them on: the
				// writes above ran on the default configuration.
				if err := cl.close(); err != nil && res.ShutdownErr == "" {
					res.ShutdownErr = err.Error()
				}
				fmt.Fprintf(progress, "bench: %s: restarting the cluster with lease reads on\n", eng.name)
				edir2 := filepath.Join(dir, eng.name+"-lease")
				defer os.RemoveAll(edir2)
				cl2, err := startSafely(eng, clusterOpts{dir: edir2, basePort: c.basePort, timeout: c.timeout, elect: c.elect,
					logw: progress, logLevel: c.logLevel, bootstrapOne: c.bootstrapOne, leaseReads: true, procs: c.procs, ptStore: c.ptStore})
				if err != nil {
					broken = true // nothing left to close
					for _, p := range res.ReadPaths {
						if p.lease {
							for _, n := range c.readers {
								res.Reads = append(res.Reads, cellResult{Kind: "read", ReadPath: p.Name, Clients: n, Size: c.sizes[0],
									Err: "lease-read cluster: " + err.Error()})
							}
						}
					}
				} else {
					cl = cl2
					readCells(true)
				}
			}
		}
		if eng.name == pontoonEngine.name && c.memprofile != "" {
			if err := writeAllocProfile(c.memprofile); err != nil {
				fmt.Fprintf(progress, "bench: memprofile: %v\n", err)
			}
		}
		closed = broken // a broken cell already closed the cluster
		if !closed {
			if err := cl.close(); err != nil {
				res.ShutdownErr = err.Error()
			}
		}
	}
	res.GoroutinesLeft = waitGoroutines(baseline, 10*time.Second)
	if res.GoroutinesLeft > 0 {
		fmt.Fprintf(progress, "bench: %s: %d goroutines still running 10s after shutdown:\n", eng.name, res.GoroutinesLeft)
		pprof.Lookup("goroutine").WriteTo(progress, 1)
	}
	res.VmHWMMB = mb(procStatus().hwm)
	return res
}

// prefillClients is how many writers -prefill runs.
const prefillClients = 64

// prefillSize is the value size -prefill writes: the run's first.
func (c config) prefillSize() int {
	if c.allSizes != nil {
		return c.allSizes[0]
	}
	return c.sizes[0]
}

// startSafely runs eng.start, turning a panic into an error so one engine's
// failure does not hide the other's results.
func startSafely(eng engine, o clusterOpts) (cl cluster, err error) {
	defer func() {
		if p := recover(); p != nil {
			cl, err = nil, fmt.Errorf("panic while starting: %v", p)
		}
	}()
	return eng.start(o)
}

func logCell(w io.Writer, name string, r cellResult) {
	if r.Err != "" {
		fmt.Fprintf(w, "bench: %s: %s%s %dB C=%d: error: %s\n", name, r.Kind, pathSuffix(r), r.Size, r.Clients, r.Err)
		return
	}
	fmt.Fprintf(w, "bench: %s: %s%s %dB C=%d: %.0f ops/s p50 %.3f p99 %.3f p99.9 %.3f ms, %.2f cpu-s/10k, %.1f allocs/op, RSS %.0f MB (anon %.0f MB), %d errors\n",
		name, r.Kind, pathSuffix(r), r.Size, r.Clients, r.OpsPerSec, r.P50Ms, r.P99Ms, r.P999Ms, r.CPUSecPer10k, r.AllocsPerOp, r.PeakRSSMB, r.PeakAnonMB, r.Errors)
}

// waitGoroutines waits until no more than baseline goroutines run, and
// returns how many are left over after timeout.
func waitGoroutines(baseline int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := runtime.NumGoroutine() - baseline
		if n <= 0 {
			return 0
		}
		if time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// printSaved prints the text report of a saved -json output.
func printSaved(w io.Writer, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return err
	}
	printReport(w, &rep)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func needsLease(paths []readPath) bool {
	for _, p := range paths {
		if p.lease {
			return true
		}
	}
	return false
}

// record starts writing a profile or trace (start) into a new file at
// path and returns the function that stops it and closes the file.
func record(path string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		stop()
		f.Close()
	}, nil
}
