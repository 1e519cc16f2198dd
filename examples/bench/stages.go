package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

// stagesEnv, when set (to a directory), makes every process of the bench
// (children of -procs included) collect go-metrics timers and samples and
// write their means to <dir>/<name>.txt when it exits: a diagnostic for the
// write path's stage timeline (raft.pontoon.*, raft.leader.dispatchLog,
// raft.rpc.appendEntries.storeLogs, ...). Run one cell per invocation so
// the means belong to it.
const stagesEnv = "PONTOON_BENCH_STAGES"

type stageSink struct {
	mu sync.Mutex
	m  map[string]*stageAgg
}

type stageAgg struct {
	n        int
	sum, max float64
}

func (s *stageSink) add(key []string, v float32) {
	k := strings.Join(key, ".")
	s.mu.Lock()
	a := s.m[k]
	if a == nil {
		a = &stageAgg{}
		s.m[k] = a
	}
	a.n++
	a.sum += float64(v)
	if float64(v) > a.max {
		a.max = float64(v)
	}
	s.mu.Unlock()
}

func (s *stageSink) SetGauge(key []string, val float32) { s.add(append(key, "(gauge)"), val) }
func (s *stageSink) SetGaugeWithLabels(key []string, val float32, _ []metrics.Label) {
	s.add(append(key, "(gauge)"), val)
}
func (s *stageSink) SetPrecisionGauge(key []string, val float64)                              {}
func (s *stageSink) SetPrecisionGaugeWithLabels(key []string, val float64, _ []metrics.Label) {}
func (s *stageSink) EmitKey(key []string, val float32)                                        {}
func (s *stageSink) IncrCounter(key []string, val float32)                                    {}
func (s *stageSink) IncrCounterWithLabels(key []string, val float32, _ []metrics.Label)       {}
func (s *stageSink) AddSample(key []string, val float32)                                      { s.add(key, val) }
func (s *stageSink) AddSampleWithLabels(key []string, val float32, _ []metrics.Label) {
	s.add(key, val)
}

func (s *stageSink) write(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := s.m[k]
		fmt.Fprintf(w, "%-55s n=%8d mean=%9.3f max=%9.3f\n", k, a.n, a.sum/float64(a.n), a.max)
	}
}

var stages *stageSink

// startStages installs the sink if stagesEnv is set.
func startStages() {
	if os.Getenv(stagesEnv) == "" {
		return
	}
	stages = &stageSink{m: map[string]*stageAgg{}}
	cfg := metrics.DefaultConfig("")
	cfg.EnableHostname, cfg.EnableRuntimeMetrics, cfg.EnableServiceLabel = false, false, false
	cfg.TimerGranularity = time.Millisecond
	metrics.NewGlobal(cfg, stages)
}

// writeStages writes the means to <dir>/<name>.txt.
func writeStages(name string) {
	if stages == nil {
		return
	}
	f, err := os.Create(os.Getenv(stagesEnv) + "/" + name + ".txt")
	if err != nil {
		return
	}
	defer f.Close()
	stages.write(f)
}
