package raftimpl

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// Future is raft.Future: Error blocks until the operation completes.
type Future = raft.Future

// IndexFuture is a Future that also reports the log index it used.
type IndexFuture interface {
	Future
	// Index returns the log index of the operation, 0 if it failed before
	// being given one. Call it after Error.
	Index() uint64
}

// ApplyFuture is the result of Apply: the FSM's response.
type ApplyFuture interface {
	IndexFuture
	// Response returns the FSM's return value for the entry. Call it after
	// Error returned nil.
	Response() interface{}
}

// ConfigurationFuture returns a configuration.
type ConfigurationFuture interface {
	IndexFuture
	Configuration() raft.Configuration
}

// waiter bounds how long a future's Error waits: a deadline from a timeout
// form, or a context from a context form. Its zero value waits forever.
type waiter struct {
	ctx      context.Context
	deadline time.Time
}

func timeoutWaiter(timeout time.Duration) waiter {
	if timeout <= 0 {
		return waiter{}
	}
	return waiter{deadline: time.Now().Add(timeout)}
}

func contextWaiter(ctx context.Context) waiter {
	return waiter{ctx: ctx}
}

// expired returns a channel closed when the wait bound passes (nil: never),
// and a function that releases its timer.
func (w waiter) expired() (<-chan struct{}, func()) {
	if w.ctx != nil {
		return w.ctx.Done(), func() {}
	}
	if w.deadline.IsZero() {
		return nil, func() {}
	}
	ch := make(chan struct{})
	t := time.AfterFunc(time.Until(w.deadline), func() { close(ch) })
	return ch, func() { t.Stop() }
}

// timerPool holds stopped timers for Error's waits, so a wait allocates
// none.
var timerPool sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timerPool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	if !t.Stop() {
		// NB: a program whose main module predates Go 1.23 keeps the old
		// timer channels (GODEBUG asynctimerchan=1), where a timer that
		// fired unread holds its value across Reset: drain it, or the
		// next wait on this timer would time out at once. With the
		// current semantics there is nothing to drain.
		select {
		case <-t.C:
		default:
		}
	}
	timerPool.Put(t)
}

// timeoutErr is the error of a wait that ran out; queued says whether the
// operation had been enqueued (and so may still take effect).
func (w waiter) timeoutErr(queued bool) error {
	if w.ctx != nil {
		return w.ctx.Err()
	}
	if queued {
		return fmt.Errorf("%w: timed out waiting for the operation to complete (it may still take effect)", raft.ErrEnqueueTimeout)
	}
	return raft.ErrEnqueueTimeout
}

// opFuture is the common future: settled once, by the driver (respond) or by
// its wait bound running out (Error).
type opFuture struct {
	wait waiter
	// stopped is closed when the driver loop has exited; a future not
	// settled by then never will be, and fails with ErrRaftShutdown.
	stopped <-chan struct{}

	once sync.Once
	done chan struct{}
	// err, index and response are written once, before done is closed.
	err      error
	index    uint64
	response interface{}

	mu sync.Mutex
	// queued is set by the driver when the operation entered the loop
	// (claim); abandoned when its caller gave up before that (a timeout, or
	// the leadership it needed ended): the loop then drops it. At most one
	// of the two is ever set, under mu: an operation whose caller was told
	// it never entered the loop (plain raft.ErrEnqueueTimeout, or
	// raft.ErrNotLeader) is never run.
	queued, abandoned bool
	// lost, when not nil, is closed when the leadership the operation needs
	// ends (leaderEpoch); guarded by mu (the loop replaces it on claim).
	lost <-chan struct{}
	// committed is set by the loop once the operation's entry committed: an
	// ended leadership no longer fails it.
	committed atomic.Bool
}

func newOpFuture(w waiter, stopped <-chan struct{}) *opFuture {
	return &opFuture{wait: w, stopped: stopped, done: make(chan struct{})}
}

// respond settles the future; later calls are ignored.
func (f *opFuture) respond(err error, index uint64, response interface{}) {
	f.once.Do(func() {
		f.err = err
		f.index = index
		f.response = response
		close(f.done)
	})
}

// settled reports whether the future has its outcome (or gave up waiting).
func (f *opFuture) settled() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// markQueued records that the operation entered the loop.
func (f *opFuture) markQueued() {
	f.mu.Lock()
	f.queued = true
	f.mu.Unlock()
}

// claim is the loop taking the operation: false if its caller already gave
// up on it (the loop must then drop it). lost replaces the leadership the
// operation is bound to: the loop's current one, nil when it does not lead
// (the loop itself then answers raft.ErrNotLeader).
func (f *opFuture) claim(lost <-chan struct{}) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.abandoned {
		return false
	}
	f.queued = true
	f.lost = lost
	return true
}

// giveUp settles a future whose wait ended before the operation completed:
// with notQueued if the loop had not taken it (which then never will:
// abandoned), otherwise with queuedErr.
func (f *opFuture) giveUp(notQueued, queuedErr error) {
	f.mu.Lock()
	if !f.queued && !f.settled() {
		f.abandoned = true
		f.mu.Unlock()
		f.respond(notQueued, 0, nil)
		return
	}
	f.mu.Unlock()
	f.respond(queuedErr, 0, nil)
}

// Error implements Future.
func (f *opFuture) Error() error {
	select {
	case <-f.done:
		return f.err
	default:
	}
	// NB: a pooled timer, not expired(): no allocation per wait on the
	// Apply path.
	var ctxDone <-chan struct{}
	var timeout <-chan time.Time
	if f.wait.ctx != nil {
		ctxDone = f.wait.ctx.Done()
	} else if !f.wait.deadline.IsZero() {
		t := getTimer(time.Until(f.wait.deadline))
		defer putTimer(t)
		timeout = t.C
	}
	f.mu.Lock()
	lost := f.lost
	f.mu.Unlock()
	for {
		// NB: while the future is bound to a leadership epoch, the epoch's
		// channel stands for stopped too (the loop ends its last epoch
		// after it closes stopped): one channel shared by every waiter
		// less to lock and queue on per wait.
		stopped := f.stopped
		if lost != nil {
			stopped = nil
		}
		select {
		case <-f.done:
		case <-stopped:
			f.respond(raft.ErrRaftShutdown, 0, nil)
		case <-ctxDone:
			f.giveUp(f.wait.timeoutErr(false), f.wait.timeoutErr(true))
		case <-timeout:
			f.giveUp(f.wait.timeoutErr(false), f.wait.timeoutErr(true))
		case <-lost:
			select {
			case <-f.stopped:
				f.respond(raft.ErrRaftShutdown, 0, nil)
				return f.err
			default:
			}
			f.mu.Lock()
			now := f.lost
			f.mu.Unlock()
			if now != lost {
				lost = now // claimed under a newer leadership
				continue
			}
			if f.committed.Load() {
				lost = nil // the apply loop resolves it
				continue
			}
			f.giveUp(raft.ErrNotLeader, raft.ErrLeadershipLost)
		}
		return f.err
	}
}

// Index implements IndexFuture.
func (f *opFuture) Index() uint64 {
	select {
	case <-f.done:
		return f.index
	default:
		return 0
	}
}

// Response implements ApplyFuture.
func (f *opFuture) Response() interface{} {
	select {
	case <-f.done:
		return f.response
	default:
		return nil
	}
}

// logFuture is an operation that appends a log entry: Apply and Barrier.
type logFuture struct {
	*opFuture
	log raft.Log
	// created is when Apply or Barrier was called (metrics).
	created time.Time
}

// newLogFuture returns a logFuture with its own opFuture, both in one
// allocation (one Apply is one of these).
func newLogFuture(w waiter, stopped <-chan struct{}, log raft.Log) *logFuture {
	both := &struct {
		op opFuture
		lf logFuture
	}{op: opFuture{wait: w, stopped: stopped, done: make(chan struct{})}, lf: logFuture{log: log}}
	both.lf.opFuture = &both.op
	return &both.lf
}

// errorFuture is a future that failed before it was queued.
type errorFuture struct{ err error }

func (e errorFuture) Error() error          { return e.err }
func (e errorFuture) Index() uint64         { return 0 }
func (e errorFuture) Response() interface{} { return nil }

// configurationFuture answers GetConfiguration.
type configurationFuture struct {
	configuration raft.Configuration
	index         uint64
}

func (c *configurationFuture) Error() error                      { return nil }
func (c *configurationFuture) Index() uint64                     { return c.index }
func (c *configurationFuture) Configuration() raft.Configuration { return c.configuration }

// leaderEpoch is one stretch of this node's leadership as the futures see
// it: lost is closed when it ends, by the loop when the core steps down or
// the loop exits, or by the stall watchdog when the loop cannot act.
// Operations that need the leadership (Apply, Barrier, VerifyLeader,
// membership changes) are bound to the epoch current when they are made or
// taken by the loop, and fail at once when it ends (with
// raft.ErrRaftShutdown once the loop has exited): raft.ErrLeadershipLost if
// the loop had taken them, raft.ErrNotLeader (and never run) if not.
type leaderEpoch struct {
	lost chan struct{}
	once sync.Once
}

func newLeaderEpoch() *leaderEpoch { return &leaderEpoch{lost: make(chan struct{})} }

// end closes the epoch; later calls do nothing.
func (e *leaderEpoch) end() { e.once.Do(func() { close(e.lost) }) }

// ended reports whether the epoch is over.
func (e *leaderEpoch) ended() bool {
	select {
	case <-e.lost:
		return true
	default:
		return false
	}
}
