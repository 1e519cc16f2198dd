package raftimpl

import (
	"errors"
	"sync"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// replicate sends one peer's AppendEntries. It starts synchronous; after a
// successful call it switches to the transport's pipeline (several requests
// in flight on one connection), and falls back to synchronous calls on any
// pipeline error. The core bounds how many requests are in flight.
func (p *peer) replicate() {
	defer p.wg.Done()
	var pl *pipelineSender
	defer func() {
		if pl != nil {
			pl.close()
		}
	}()
	failures := 0
	for {
		var m core.Message
		select {
		case m = <-p.appCh:
		case <-p.stopCh:
			return
		}
		if m.Type == core.MsgSnap && pl != nil {
			// Snapshots go on their own connection; replication resumes
			// synchronously after.
			pl.close()
			pl = nil
		}
		if pl != nil {
			if pl.send(m) {
				continue
			}
			// The pipeline broke: its reader has reported the requests
			// it lost; continue synchronously.
			pl.close()
			pl = nil
			failures++
			if !p.backoff(failures) {
				return
			}
			continue
		}
		resp, ok := p.call(m)
		if !ok {
			failures++
			resp = core.Message{Type: core.MsgUnreachable, From: p.id, To: p.r.localID}
		}
		if !p.deliver(resp) {
			return
		}
		if !ok {
			if !p.backoff(failures) {
				return
			}
			continue
		}
		failures = 0
		if resp.Success && resp.Type == core.MsgAppResp {
			pl = p.openPipeline()
		}
	}
}

// deliver hands a response to the driver loop; false once stopped.
func (p *peer) deliver(m core.Message) bool {
	select {
	case p.r.peerRespCh <- m:
		return true
	case <-p.stopCh:
		return false
	}
}

// pipelineSender owns one AppendPipeline and the goroutine reading its
// replies.
type pipelineSender struct {
	p  *peer
	pl transport.AppendPipeline
	// sent carries, in send order, the core message each in-flight request
	// came from; the reader pairs replies with it.
	sent   chan core.Message
	broken chan struct{}
	once   sync.Once
	stopCh chan struct{}
	wg     sync.WaitGroup
}

func (p *peer) openPipeline() *pipelineSender {
	pl, err := p.r.trans.AppendEntriesPipeline(p.id, p.addr)
	if err != nil {
		if !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
			p.r.logger.Debug("cannot open pipeline", "peer", p.id, "error", err)
		}
		return nil
	}
	s := &pipelineSender{p: p, pl: pl, sent: make(chan core.Message, 1024),
		broken: make(chan struct{}), stopCh: make(chan struct{})}
	s.wg.Add(1)
	go s.readReplies()
	return s
}

func (s *pipelineSender) markBroken() { s.once.Do(func() { close(s.broken) }) }

// send puts m on the pipeline; false if the pipeline is broken.
func (s *pipelineSender) send(m core.Message) bool {
	select {
	case <-s.broken:
		return false
	default:
	}
	req := s.p.appendRequest(m)
	resp := new(transport.AppendEntriesResponse)
	// Queue the message before sending so the reader always finds it.
	select {
	case s.sent <- m:
	case <-s.broken:
		return false
	}
	if _, err := s.pl.AppendEntries(req, resp); err != nil {
		s.p.r.logger.Debug("pipelined appendEntries failed", "peer", s.p.id, "error", err)
		s.markBroken()
		return false
	}
	return true
}

// readReplies pairs each completed future with its message and reports it.
// Once the pipeline breaks, every message still in flight is reported lost
// with one MsgUnreachable.
func (s *pipelineSender) readReplies() {
	defer s.wg.Done()
	p := s.p
	lost := func() {
		s.markBroken()
		p.deliver(core.Message{Type: core.MsgUnreachable, From: p.id, To: p.r.localID})
	}
	for {
		select {
		case f := <-s.pl.Consumer():
			m := <-s.sent
			if err := f.Error(); err != nil {
				p.r.logger.Debug("pipelined appendEntries failed", "peer", p.id, "error", err)
				lost()
				return
			}
			p.r.metrics.MeasureSinceWithLabels([]string{"raft", "replication", "appendEntries", "rpc"},
				f.Start(), peerLabel(p.id))
			if !p.deliver(p.appendResponse(m, f.Response())) {
				return
			}
		case <-s.broken:
			lost()
			return
		case <-s.stopCh:
			return
		}
	}
}

func (s *pipelineSender) close() {
	s.markBroken()
	s.pl.Close()
	close(s.stopCh)
	s.wg.Wait()
}

// appendRequest builds the AppendEntries request for m.
func (p *peer) appendRequest(m core.Message) *transport.AppendEntriesRequest {
	h := p.r.header()
	req := &transport.AppendEntriesRequest{RPCHeader: h, Term: m.Term, Leader: h.Addr,
		PrevLogEntry: m.PrevLogIndex, PrevLogTerm: m.PrevLogTerm, Entries: m.Entries,
		LeaderCommitIndex: m.Commit}
	if req.Entries == nil {
		req.Entries = []*raft.Log{}
	}
	return req
}

// appendResponse converts a reply to m into the core's MsgAppResp.
func (p *peer) appendResponse(m core.Message, out *transport.AppendEntriesResponse) core.Message {
	resp := core.Message{Type: core.MsgAppResp, From: p.id, To: p.r.localID, Context: m.Context,
		Term: out.Term, Success: out.Success, LastLog: out.LastLog, NoRetryBackoff: out.NoRetryBackoff,
		Index: m.PrevLogIndex}
	if out.Success {
		resp.Index = m.PrevLogIndex + uint64(len(m.Entries))
	}
	return resp
}
