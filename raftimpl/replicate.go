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
	// held is a message taken from appCh that could not be merged into the
	// one before it; it goes next.
	var held *core.Message
	for {
		var m core.Message
		if held != nil {
			m, held = *held, nil
		} else {
			select {
			case m = <-p.appCh:
			case <-p.stopCh:
				return
			}
		}
		if m.Type == core.MsgSnap && pl != nil {
			// Snapshots go on their own connection; replication resumes
			// synchronously after.
			pl.close()
			pl = nil
		}
		if pl != nil {
			// Merge what is queued, wait for room in the pipeline, then
			// merge what queued meanwhile: a follower persists what
			// reached it during its last write in one write (one fsync),
			// so fewer, larger requests cost less CPU per entry. A request
			// that is not full waits while eagerWindow are outstanding,
			// taking in what arrives meanwhile; a full one (it reached the
			// per-request bounds, or the next message cannot join it) may
			// use the transport's whole window.
			var b appendBatch
			isApp := m.Type == core.MsgApp
			if isApp {
				b = p.newAppendBatch(m)
				if held = p.coalesce(&b); held == nil {
					ok, next := p.waitEager(pl, &b)
					if !ok {
						return
					}
					held = next
				}
			}
			if !pl.waitRoom() {
				select {
				case <-p.stopCh:
					return
				default:
				}
			}
			if isApp {
				if held == nil {
					held = p.coalesce(&b)
				}
				m = b.m
			}
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

// appendBatch is a MsgApp being merged with the ones queued after it.
type appendBatch struct {
	m    core.Message
	size uint64 // bytes of m's entries, as core.EntrySize counts them
	// copied is set once m.Entries is a slice of its own.
	copied bool
}

func (p *peer) newAppendBatch(m core.Message) appendBatch {
	b := appendBatch{m: m}
	for _, e := range m.Entries {
		b.size += core.EntrySize(e, entryOverhead)
	}
	return b
}

// add merges MsgApp n into b if it continues b (same term, contiguous
// entries) within MaxAppendEntries and the byte bound of one request
// (Config.entryLimits: MaxAppendBytes and the frame limit); false if not.
// The merged request is what the separate ones would have done in order,
// and its acknowledgement (of the last index) frees all of them in the
// core's in-flight window.
func (p *peer) add(b *appendBatch, n core.Message) bool {
	m := &b.m
	if !canAppendTo(m, &n) ||
		(p.r.appendEntries > 0 && len(m.Entries)+len(n.Entries) > p.r.appendEntries) {
		return false
	}
	var add uint64
	for _, e := range n.Entries {
		add += core.EntrySize(e, entryOverhead)
	}
	if len(m.Entries) > 0 && len(n.Entries) > 0 && b.size+add > p.r.appendBytes {
		return false
	}
	if len(n.Entries) > 0 {
		if !b.copied {
			// NB: the core's slices may share its log's backing
			// array: never append to them in place.
			ents := make([]*raft.Log, len(m.Entries), len(m.Entries)+len(n.Entries)+16)
			copy(ents, m.Entries)
			m.Entries = ents
			b.copied = true
		}
		m.Entries = append(m.Entries, n.Entries...)
		b.size += add
	}
	m.Commit = max(m.Commit, n.Commit)
	return true
}

// coalesce merges into b the MsgApps already queued that continue it. The
// first queued message that does not fit is returned as next.
func (p *peer) coalesce(b *appendBatch) (next *core.Message) {
	for {
		var n core.Message
		select {
		case n = <-p.appCh:
		default:
			return nil
		}
		if !p.add(b, n) {
			return &n
		}
	}
}

// full reports whether b reached the bounds of one request (MaxAppendEntries
// entries, or half the byte bound: large enough to go out at once).
func (p *peer) full(b *appendBatch) bool {
	return (p.r.appendEntries > 0 && len(b.m.Entries) >= p.r.appendEntries) || b.size >= p.r.appendBytes/2
}

// waitEager holds b while eagerWindow requests are outstanding on pl and b
// is not full, merging what arrives meanwhile. Its result is false if the
// peer stopped; a message that cannot join b ends the wait and is returned
// as next (b is then as full as it gets).
func (p *peer) waitEager(pl *pipelineSender, b *appendBatch) (ok bool, next *core.Message) {
	for len(pl.sent) >= min(eagerWindow, pl.window) && !p.full(b) {
		select {
		case <-pl.room:
		case n := <-p.appCh:
			if !p.add(b, n) {
				return true, &n
			}
		case <-pl.broken:
			return true, nil // send fails
		case <-p.stopCh:
			return false, nil
		}
	}
	return true, nil
}

// eagerWindow is how many requests may be outstanding on a pipeline before
// one that is not full waits for a reply (a full one may use the
// transport's whole window). Two keep a follower's disk busy: one request
// is being written while the next waits, and a reply frees room for what
// queued during that write. Full requests need more: with MaxAppendEntries
// 64 (hashicorp's default), two bound what is on its way to a follower to
// 128 entries, below what 256 clients propose during one write.
const eagerWindow = 2

// canAppendTo reports whether MsgApp n continues MsgApp m: same term, and n's
// previous entry is m's last one.
func canAppendTo(m, n *core.Message) bool {
	if n.Type != core.MsgApp || n.Term != m.Term {
		return false
	}
	lastIdx, lastTerm := m.PrevLogIndex, m.PrevLogTerm
	if k := len(m.Entries); k > 0 {
		lastIdx, lastTerm = m.Entries[k-1].Index, m.Entries[k-1].Term
	}
	return n.PrevLogIndex == lastIdx && n.PrevLogTerm == lastTerm
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
	sent chan core.Message
	// window is how many requests the transport lets us have outstanding;
	// room is signalled by the reader each time a reply frees one.
	window int
	room   chan struct{}
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
	window := defaultPipelineWindow
	if w, ok := p.r.trans.(interface{ MaxRPCsInFlight() int }); ok && w.MaxRPCsInFlight() > 0 {
		window = w.MaxRPCsInFlight()
	}
	s := &pipelineSender{p: p, pl: pl, sent: make(chan core.Message, 1024), window: window,
		room: make(chan struct{}, 1), broken: make(chan struct{}), stopCh: make(chan struct{})}
	s.wg.Add(1)
	go s.readReplies()
	return s
}

// defaultPipelineWindow is the in-flight limit assumed of a transport that
// does not report its own (hashicorp/raft's default).
const defaultPipelineWindow = 2

// waitRoom blocks while the pipeline has window requests outstanding. It
// returns false if the pipeline broke or the peer stopped meanwhile (send
// then fails, or the caller sees stopCh).
func (s *pipelineSender) waitRoom() bool {
	for len(s.sent) >= s.window {
		select {
		case <-s.room:
		case <-s.broken:
			return false
		case <-s.p.stopCh:
			return false
		}
	}
	return true
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
		s.p.fails.failed(s.p, "appendEntries (pipelined)", err)
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
			select {
			case s.room <- struct{}{}:
			default:
			}
			if err := f.Error(); err != nil {
				p.fails.failed(p, "appendEntries (pipelined)", err)
				lost()
				return
			}
			p.fails.ok(p)
			p.noteAppend(f.Start(), len(m.Entries))
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
