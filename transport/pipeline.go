package transport

import (
	"errors"
	"fmt"
	"sync"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// netPipeline sends AppendEntries back to back on one connection; a reader
// goroutine decodes the replies in order and hands the futures to Consumer.
//
// The connection is dialled by the first AppendEntries, not when the
// pipeline is opened: an engine may open a pipeline and send nothing on it
// for a long time (no writes), and a server closes a connection that
// delivers no request within its Timeout (a flood guard).
//
// Invariants: at most cap(slots) requests are written and not yet delivered
// on doneCh; inflight holds, in send order, the futures whose replies have
// not been read; every future is completed exactly once.
type netPipeline struct {
	t      *NetworkTransport
	id     raft.ServerID
	target raft.ServerAddress

	// c is the connection: set once, by the first AppendEntries (wmu
	// held), under cmu; the reader uses it only after a request sent on
	// it (inflight orders the two).
	c *clientConn
	// cmu guards c's assignment against shutdown, and closed.
	cmu sync.Mutex
	// closed is set by shutdown: no connection may be set after it.
	closed bool

	slots    chan struct{}
	inflight chan *appendFuture
	doneCh   chan AppendFuture

	shutdownCh chan struct{}
	closeOnce  sync.Once
	readerDone chan struct{}

	// wmu serializes writers and guards drained.
	wmu sync.Mutex
	// drained is set once the reader has exited and failed what was left in
	// inflight; writers must not enqueue after that.
	drained bool
}

func newNetPipeline(t *NetworkTransport, id raft.ServerID, target raft.ServerAddress, maxInFlight int) *netPipeline {
	return &netPipeline{
		t:          t,
		id:         id,
		target:     target,
		slots:      make(chan struct{}, maxInFlight),
		inflight:   make(chan *appendFuture, maxInFlight),
		doneCh:     make(chan AppendFuture, maxInFlight),
		shutdownCh: make(chan struct{}),
		readerDone: make(chan struct{}),
	}
}

// AppendEntries implements AppendPipeline. It blocks while MaxRPCsInFlight
// requests are outstanding.
func (p *netPipeline) AppendEntries(args *AppendEntriesRequest, resp *AppendEntriesResponse) (AppendFuture, error) {
	if !p.takeSlot() {
		return nil, raft.ErrPipelineShutdown
	}
	f := &appendFuture{start: time.Now(), args: args, resp: resp}
	f.wg.Add(1)

	p.wmu.Lock()
	if p.drained {
		p.wmu.Unlock()
		return nil, raft.ErrPipelineShutdown
	}
	if p.c == nil {
		if err := p.connect(); err != nil {
			p.wmu.Unlock()
			<-p.slots
			p.shutdown()
			return nil, err
		}
	}
	_ = p.c.conn.SetWriteDeadline(time.Now().Add(p.t.lim.timeout))
	err := p.c.send(p.t, rpcAppendEntries, args, true)
	if err == nil {
		p.inflight <- f // never blocks: a slot is held
	}
	p.wmu.Unlock()
	if err != nil {
		<-p.slots
		p.shutdown()
		return nil, err
	}
	return f, nil
}

// connect dials the pipeline's connection. wmu is held.
func (p *netPipeline) connect() error {
	c, err := p.t.getConn(p.id, p.target, false)
	if err != nil {
		return err
	}
	p.cmu.Lock()
	defer p.cmu.Unlock()
	if p.closed {
		p.t.discardConn(c)
		return raft.ErrPipelineShutdown
	}
	p.c = c
	return nil
}

// takeSlot takes an in-flight slot, waiting while MaxRPCsInFlight requests
// are outstanding; false if the pipeline closed meanwhile.
func (p *netPipeline) takeSlot() bool {
	// NB: the non-blocking send spares a two-case select when a slot is
	// free, the usual case. A closed pipeline is still caught: the writer
	// sees drained, or the write fails on the closed connection.
	select {
	case p.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case p.slots <- struct{}{}:
		return true
	case <-p.shutdownCh:
		return false
	}
}

// Consumer implements AppendPipeline.
func (p *netPipeline) Consumer() <-chan AppendFuture { return p.doneCh }

// Close implements AppendPipeline: it closes the connection, waits for the
// reader, and fails futures still waiting with raft.ErrPipelineShutdown.
func (p *netPipeline) Close() error {
	p.shutdown()
	<-p.readerDone
	return nil
}

// shutdown stops the pipeline without waiting for the reader.
func (p *netPipeline) shutdown() {
	p.closeOnce.Do(func() {
		close(p.shutdownCh)
		p.cmu.Lock()
		p.closed = true
		c := p.c
		p.cmu.Unlock()
		if c != nil {
			p.t.discardConn(c)
		}
		p.t.mu.Lock()
		delete(p.t.mu.pipelines, p)
		p.t.mu.Unlock()
	})
}

// decodeLoop reads replies in order until the pipeline closes or the
// connection fails.
func (p *netPipeline) decodeLoop() {
	defer p.t.wg.Done()
	defer close(p.readerDone)
	defer p.drain()
	for {
		f, ok := p.nextInflight()
		if !ok {
			return
		}
		_ = p.c.conn.SetReadDeadline(time.Now().Add(p.t.lim.timeout))
		rpcErr, err := p.c.receive(p.t, f.resp)
		if err != nil {
			f.complete(fmt.Errorf("pipeline: %w", err))
			p.deliver(f)
			p.shutdown()
			return
		}
		if rpcErr != "" {
			f.complete(errors.New(rpcErr))
		} else {
			f.complete(nil)
		}
		if !p.deliver(f) {
			return
		}
	}
}

// nextInflight returns the oldest request awaiting its reply, waiting for
// one to be sent; false if the pipeline closed meanwhile.
func (p *netPipeline) nextInflight() (*appendFuture, bool) {
	// NB: with requests in flight the next one is already queued; the
	// non-blocking receive spares a two-case select.
	select {
	case f := <-p.inflight:
		return f, true
	default:
	}
	select {
	case f := <-p.inflight:
		return f, true
	case <-p.shutdownCh:
		return nil, false
	}
}

// deliver hands f to Consumer and frees its slot; false if the pipeline
// closed first.
func (p *netPipeline) deliver(f *appendFuture) bool {
	// NB: doneCh is buffered, so unless the consumer lags it takes f at
	// once, without a two-case select.
	select {
	case p.doneCh <- f:
		<-p.slots
		return true
	default:
	}
	select {
	case p.doneCh <- f:
		<-p.slots
		return true
	case <-p.shutdownCh:
		return false
	}
}

// drain fails every future still waiting for a reply.
func (p *netPipeline) drain() {
	p.wmu.Lock()
	p.drained = true
	p.wmu.Unlock()
	for {
		select {
		case f := <-p.inflight:
			f.complete(raft.ErrPipelineShutdown)
		default:
			return
		}
	}
}

// appendFuture is one pipelined AppendEntries. Error blocks until the reply
// is read (or the pipeline fails); a WaitGroup does that without a channel
// allocation per request.
type appendFuture struct {
	start time.Time
	args  *AppendEntriesRequest
	resp  *AppendEntriesResponse

	wg  sync.WaitGroup
	err error // written once, before wg.Done
}

func (f *appendFuture) complete(err error) {
	f.err = err
	f.wg.Done()
}

// Error implements raft.Future.
func (f *appendFuture) Error() error {
	f.wg.Wait()
	return f.err
}

// Start implements AppendFuture.
func (f *appendFuture) Start() time.Time { return f.start }

// Request implements AppendFuture.
func (f *appendFuture) Request() *AppendEntriesRequest { return f.args }

// Response implements AppendFuture.
func (f *appendFuture) Response() *AppendEntriesResponse { return f.resp }
