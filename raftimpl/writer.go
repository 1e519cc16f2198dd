package raftimpl

import (
	"fmt"
	"sync/atomic"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// maxWritesInFlight bounds the log writes handed to the writer and not yet
// reported done (each is one Ready's entries; the writer merges what is
// queued into one StoreLogs call).
const maxWritesInFlight = 1024

// writeQueueLen is the capacity of the writer's channels: room for every
// write the loop may have in flight (it stops taking work at
// maxWritesInFlight, and one loop iteration adds a few at most), so neither
// side ever blocks on the other.
const writeQueueLen = 2 * maxWritesInFlight

// leaderWriteInterval spaces a leader's log writes while its followers
// alone form a quorum: commits do not wait for the leader's own write then,
// and fewer, larger leader transactions leave the disk (shared with the
// followers' writes on a one-disk machine, and costing two fsyncs each in
// bbolt) to the writes that do gate commits.
//
// NB: 10 ms, not 2: at one client a write every 2 ms put a third flush
// beside the followers' two for every other commit (interleaved -procs A/B,
// 16 B, 3 rounds: 1 client 824 -> 1,035 ops/s, p99 8.1 -> 5.2 ms; 64
// clients 20.3k -> 21.5k; 256 within noise). What the leader holds
// unwritten stays bounded by maxEntriesInFlight.
const leaderWriteInterval = 10 * time.Millisecond

// maxEntriesInFlight bounds the entries being written: past it the driver
// stops taking proposals until writes complete (backpressure from the disk).
const maxEntriesInFlight = 8192

// logWriter writes a leader's log on its own goroutine, so the driver's
// loop goes on stepping acknowledgements, proposals and heartbeats while the
// disk works: the leader writes its log in parallel with replicating it, and
// the proposals that arrive during one write go together into the next.
//
// The loop hands batches with submit and learns of their completion on done,
// in order. The writer touches nothing but the LogStore (which hashicorp's
// contract makes safe for concurrent use) and writeStarted.
type logWriter struct {
	logs logstore.LogStore
	// reqs carries batches to write, in log order; each continues the one
	// before it (appends only: a leader never rewrites its log).
	reqs chan []*raft.Log
	// done carries one result per StoreLogs call, in order (see
	// writeQueueLen for why neither channel fills).
	done chan writeResult
	// writeStarted is the Raft's stamp for the stall watchdog.
	writeStarted *atomic.Int64
	exited       chan struct{}
	// queued is the writer goroutine's scratch for takeQueued.
	queued [][]*raft.Log
	// spaced is set by the driver while this node leads and its followers
	// form a quorum without it: writes then start leaderWriteInterval
	// apart, merging what queued meanwhile.
	spaced atomic.Bool
}

// writeResult reports one StoreLogs call: the entries it wrote (one or more
// batches, merged), how long it took, and its error.
type writeResult struct {
	entries []*raft.Log
	batches int
	took    time.Duration
	err     error
}

func newLogWriter(logs logstore.LogStore, writeStarted *atomic.Int64) *logWriter {
	w := &logWriter{
		logs:         logs,
		reqs:         make(chan []*raft.Log, writeQueueLen),
		done:         make(chan writeResult, writeQueueLen),
		writeStarted: writeStarted,
		exited:       make(chan struct{}),
	}
	go w.run()
	return w
}

// run writes batches until reqs is closed. After a failed write it writes
// nothing more (a later batch would leave a gap) and fails what follows.
func (w *logWriter) run() {
	defer close(w.exited)
	var failed error
	var lastStart time.Time
	for batch := range w.reqs {
		if w.spaced.Load() {
			if wait := leaderWriteInterval - time.Since(lastStart); wait > 0 {
				time.Sleep(wait)
			}
		}
		merged, n := w.takeQueued(batch)
		res := writeResult{entries: merged, batches: n, err: failed}
		if failed == nil {
			start := time.Now()
			lastStart = start
			w.writeStarted.Store(start.UnixNano())
			if err := w.logs.StoreLogs(merged); err != nil {
				res.err = fmt.Errorf("storing logs %d-%d: %w", merged[0].Index, merged[len(merged)-1].Index, err)
				failed = res.err
			}
			w.writeStarted.Store(0)
			res.took = time.Since(start)
		}
		w.done <- res
	}
}

// takeQueued returns first merged with the batches already queued behind
// it (one allocation, whatever their number), and how many batches that is.
func (w *logWriter) takeQueued(first []*raft.Log) ([]*raft.Log, int) {
	w.queued = append(w.queued[:0], first)
	total := len(first)
	for more := true; more && len(w.queued) < maxWritesInFlight; {
		select {
		case b, ok := <-w.reqs:
			if !ok {
				more = false
				break
			}
			w.queued = append(w.queued, b)
			total += len(b)
		default:
			more = false
		}
	}
	n := len(w.queued)
	if n == 1 {
		w.queued[0] = nil
		return first, 1
	}
	merged := make([]*raft.Log, 0, total)
	for i, b := range w.queued {
		merged = append(merged, b...)
		w.queued[i] = nil
	}
	return merged, n
}

// stop lets the writer finish what it was handed and waits for it.
func (w *logWriter) stop() {
	close(w.reqs)
	<-w.exited
}
