package transport

import (
	"sync"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// inmemPipeline pipelines AppendEntries to one in-memory peer: requests are
// delivered in order to the peer's consumer by one goroutine, and their
// futures complete in order on doneCh.
type inmemPipeline struct {
	trans    *InmemTransport
	peer     *InmemTransport
	peerAddr raft.ServerAddress

	// inflight carries sent requests, in order, to the goroutine that waits
	// for their responses; its capacity bounds the requests in flight.
	inflight chan *inmemAppendFuture
	doneCh   chan AppendFuture

	shutdownCh chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup
}

func newInmemPipeline(trans, peer *InmemTransport, addr raft.ServerAddress) *inmemPipeline {
	p := &inmemPipeline{
		trans:      trans,
		peer:       peer,
		peerAddr:   addr,
		inflight:   make(chan *inmemAppendFuture, inmemMaxInFlight),
		doneCh:     make(chan AppendFuture, inmemMaxInFlight),
		shutdownCh: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.decodeResponses()
	return p
}

func (p *inmemPipeline) decodeResponses() {
	defer p.wg.Done()
	timeout := p.trans.timeout
	for {
		select {
		case f := <-p.inflight:
			var timer <-chan time.Time
			var tm *time.Timer
			if timeout > 0 {
				tm = time.NewTimer(timeout)
				timer = tm.C
			}
			select {
			case r := <-f.respCh:
				if r.Error != nil {
					f.err = r.Error
				} else {
					*f.resp = *r.Response.(*AppendEntriesResponse)
				}
			case <-timer:
				f.err = errTimeout
			case <-p.shutdownCh:
				f.err = raft.ErrPipelineShutdown
			}
			if tm != nil {
				tm.Stop()
			}
			close(f.done)
			select {
			case p.doneCh <- f:
			case <-p.shutdownCh:
				return
			}
		case <-p.shutdownCh:
			return
		}
	}
}

var errTimeout = &timeoutError{}

type timeoutError struct{}

func (*timeoutError) Error() string { return "command timed out" }

// AppendEntries implements AppendPipeline.
func (p *inmemPipeline) AppendEntries(args *AppendEntriesRequest, resp *AppendEntriesResponse) (AppendFuture, error) {
	f := &inmemAppendFuture{
		start:  time.Now(),
		args:   args,
		resp:   resp,
		respCh: make(chan RPCResponse, 1),
		done:   make(chan struct{}),
	}
	// A closed pipeline (Disconnect models a partition) must not deliver,
	// even when the peer's queue has room.
	select {
	case <-p.shutdownCh:
		return nil, raft.ErrPipelineShutdown
	default:
	}
	var timer <-chan time.Time
	if t := p.trans.timeout; t > 0 {
		tm := time.NewTimer(t)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case p.peer.consumerCh <- RPC{Command: args, RespChan: f.respCh}:
	case <-timer:
		return nil, errTimeout
	case <-p.shutdownCh:
		return nil, raft.ErrPipelineShutdown
	case <-p.peer.shutdownCh:
		return nil, raft.ErrPipelineShutdown
	}
	select {
	case p.inflight <- f:
	case <-p.shutdownCh:
		return nil, raft.ErrPipelineShutdown
	}
	return f, nil
}

// Consumer implements AppendPipeline.
func (p *inmemPipeline) Consumer() <-chan AppendFuture { return p.doneCh }

// Close implements AppendPipeline.
func (p *inmemPipeline) Close() error {
	p.closeOnce.Do(func() { close(p.shutdownCh) })
	p.wg.Wait()
	return nil
}

type inmemAppendFuture struct {
	start  time.Time
	args   *AppendEntriesRequest
	resp   *AppendEntriesResponse
	respCh chan RPCResponse
	// err is set before done is closed.
	err  error
	done chan struct{}
}

func (f *inmemAppendFuture) Error() error {
	<-f.done
	return f.err
}
func (f *inmemAppendFuture) Start() time.Time                 { return f.start }
func (f *inmemAppendFuture) Request() *AppendEntriesRequest   { return f.args }
func (f *inmemAppendFuture) Response() *AppendEntriesResponse { return f.resp }

// inmemMaxInFlight is how many AppendEntries an in-memory pipeline may have
// outstanding.
const inmemMaxInFlight = 16

// MaxRPCsInFlight reports how many AppendEntries one pipeline may have
// outstanding (see NetworkTransport.MaxRPCsInFlight).
func (t *InmemTransport) MaxRPCsInFlight() int { return inmemMaxInFlight }
