package raftimpl

import "time"

// saturationPeriod is how often a saturation sample is reported, as
// hashicorp/raft's (about once a second). A variable for tests only.
var saturationPeriod = time.Second

// Keys of hashicorp/raft's goroutine saturation samples.
var (
	keyMainSaturation = []string{"raft", "thread", "main", "saturation"}
	keyFSMSaturation  = []string{"raft", "thread", "fsm", "saturation"}
)

// saturation measures the share of time one goroutine spends working rather
// than waiting for its next event, and reports it as a sample in [0, 1]
// about once a second (hashicorp/raft's raft.thread.<name>.saturation). The
// goroutine calls working when an event arrives and waiting before it
// blocks again. Only that goroutine uses it; it measures nothing while
// metrics go nowhere.
type saturation struct {
	key  []string
	sink metricSink
	// periodStart begins the current period; workStart is when the
	// current work began (zero while waiting); busy sums the period's work.
	periodStart, workStart time.Time
	busy                   time.Duration
}

func newSaturation(key []string, sink metricSink) *saturation {
	return &saturation{key: key, sink: sink}
}

// working marks the start of work on an event.
func (s *saturation) working() {
	if !s.sink.enabled() {
		s.periodStart = time.Time{}
		return
	}
	now := time.Now()
	if s.periodStart.IsZero() {
		s.periodStart = now
	}
	s.workStart = now
}

// waiting marks the end of the work, and reports the period once it is over.
func (s *saturation) waiting() {
	if s.workStart.IsZero() || s.periodStart.IsZero() {
		return
	}
	now := time.Now()
	s.busy += now.Sub(s.workStart)
	s.workStart = time.Time{}
	if elapsed := now.Sub(s.periodStart); elapsed >= saturationPeriod {
		s.sink.AddSample(s.key, float32(s.busy.Seconds()/elapsed.Seconds()))
		s.periodStart, s.busy = now, 0
	}
}
