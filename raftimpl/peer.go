package raftimpl

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// peerQueue bounds the messages waiting for one peer's sender. A full queue
// drops: the core resends what a peer did not acknowledge.
const peerQueue = 1024

// peer sends the core's messages to one server. Replication and control
// traffic (heartbeats, votes, TimeoutNow) run on separate goroutines so a
// large AppendEntries never delays a heartbeat.
type peer struct {
	r    *Raft
	id   raft.ServerID
	addr raft.ServerAddress

	appCh chan core.Message
	ctlCh chan core.Message
	// hb is the newest heartbeat not yet sent (nil if none), guarded by
	// hbMu; hbCh (capacity 1) wakes the control sender for it. A newer
	// round replaces an unsent one: its answer acknowledges every earlier
	// round too (the core counts a follower's highest acknowledged round),
	// so reads wait for one round trip however many rounds they started,
	// and no heartbeat queue can fill.
	hbMu   sync.Mutex
	hb     *core.Message
	hbCh   chan struct{}
	stopCh chan struct{}
	wg     sync.WaitGroup
	// fails logs runs of failed AppendEntries and heartbeats.
	fails sendFailures
}

func newPeer(r *Raft, s raft.Server) *peer {
	p := &peer{
		r:      r,
		id:     s.ID,
		addr:   s.Address,
		appCh:  make(chan core.Message, peerQueue),
		ctlCh:  make(chan core.Message, peerQueue),
		hbCh:   make(chan struct{}, 1),
		stopCh: make(chan struct{}),
	}
	p.wg.Add(2)
	go p.replicate()
	go p.loop(p.ctlCh)
	return p
}

func (p *peer) stop() {
	close(p.stopCh)
	p.wg.Wait()
}

// reconcilePeers starts senders for new servers of the configuration and
// stops those of removed ones.
func (d *driver) reconcilePeers(c raft.Configuration) {
	want := make(map[raft.ServerID]raft.Server, len(c.Servers))
	for _, s := range c.Servers {
		if s.ID != d.r.localID {
			want[s.ID] = s
		}
	}
	for id, p := range d.peers {
		if s, ok := want[id]; !ok || s.Address != p.addr {
			p.stop()
			delete(d.peers, id)
			if d.soft.Role == raft.Leader {
				d.r.observe(PeerObservation{Removed: true, Peer: raft.Server{ID: id, Address: p.addr}})
			}
		}
	}
	for id, s := range want {
		if _, ok := d.peers[id]; !ok {
			d.peers[id] = newPeer(d.r, s)
			if d.soft.Role == raft.Leader {
				d.r.observe(PeerObservation{Peer: s})
			}
		}
	}
}

// send queues a request for its destination.
func (d *driver) send(m core.Message) {
	p, ok := d.peers[m.To]
	if !ok {
		if d.addrOf(m.To) == "" {
			// A server the core just added: its address is in the
			// configuration, not yet published.
			d.published = false
			d.publish()
			p, ok = d.peers[m.To]
		}
	}
	if !ok {
		addr := d.addrOf(m.To)
		if addr == "" {
			d.r.logger.Warn("dropping message to unknown server", "to", m.To, "type", m.Type)
			return
		}
		p = newPeer(d.r, raft.Server{ID: m.To, Address: addr})
		d.peers[m.To] = p
	}
	if m.Type == core.MsgHeartbeat {
		p.setHeartbeat(m)
		return
	}
	ch := p.ctlCh
	if m.Type == core.MsgApp || m.Type == core.MsgSnap {
		ch = p.appCh
	}
	select {
	case ch <- m:
	default:
		d.r.logger.Warn("peer queue full, dropping message", "peer", m.To, "type", m.Type)
	}
}

// setHeartbeat makes m the heartbeat to send next, replacing an unsent one.
func (p *peer) setHeartbeat(m core.Message) {
	p.hbMu.Lock()
	p.hb = &m
	p.hbMu.Unlock()
	select {
	case p.hbCh <- struct{}{}:
	default:
	}
}

// takeHeartbeat returns the heartbeat to send, if any.
func (p *peer) takeHeartbeat() (core.Message, bool) {
	p.hbMu.Lock()
	defer p.hbMu.Unlock()
	if p.hb == nil {
		return core.Message{}, false
	}
	m := *p.hb
	p.hb = nil
	return m, true
}

func (p *peer) loop(ch chan core.Message) {
	defer p.wg.Done()
	failures := 0
	// lastContact is when this peer last answered; heartbeatFailing is set
	// while heartbeats to it fail (FailedHeartbeatObservation was sent).
	lastContact := time.Now()
	heartbeatFailing := false
	for {
		var m core.Message
		select {
		case m = <-ch:
		case <-p.hbCh:
			var ok bool
			if m, ok = p.takeHeartbeat(); !ok {
				continue
			}
		case <-p.stopCh:
			return
		}
		resp, ok := p.call(m)
		if ok {
			failures = 0
			lastContact = time.Now()
			if heartbeatFailing && m.Type == core.MsgHeartbeat {
				heartbeatFailing = false
				p.r.observe(ResumedHeartbeatObservation{PeerID: p.id})
			}
		} else {
			failures++
			resp = core.Message{Type: core.MsgUnreachable, From: p.id, To: p.r.localID}
			if !heartbeatFailing && m.Type == core.MsgHeartbeat {
				heartbeatFailing = true
				p.r.observe(FailedHeartbeatObservation{PeerID: p.id, LastContact: lastContact})
			}
		}
		if resp.Type != 0 && !p.r.deferHeartbeatAnswer(m, resp) && !p.deliver(resp) {
			return
		}
		if failures > 0 && !p.backoff(failures) {
			return
		}
	}
}

// backoff waits 10ms·2^(failures-2) (capped) before the next attempt; false
// when stopped meanwhile.
func (p *peer) backoff(failures int) bool {
	wait := 10 * time.Millisecond
	if failures > 2 {
		shift := failures - 2
		if shift > 6 {
			shift = 6
		}
		wait <<= uint(shift)
	}
	if max := p.r.conf.HeartbeatTimeout / 2; wait > max {
		wait = max
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.stopCh:
		return false
	}
}

// call performs one RPC and converts the reply into a core message. ok is
// false on a transport failure.
func (p *peer) call(m core.Message) (resp core.Message, ok bool) {
	r := p.r
	h := r.header()
	resp = core.Message{From: p.id, To: r.localID, Context: m.Context}
	switch m.Type {
	case core.MsgApp:
		var out transport.AppendEntriesResponse
		start := r.metrics.now()
		if err := r.trans.AppendEntries(p.id, p.addr, p.appendRequest(m), &out); err != nil {
			p.fails.failed(p, "appendEntries", err)
			return resp, false
		}
		p.fails.ok(p)
		p.noteAppend(start, len(m.Entries))
		return p.appendResponse(m, &out), true
	case core.MsgHeartbeat:
		req := &transport.AppendEntriesRequest{RPCHeader: h, Term: m.Term, Leader: h.Addr}
		var out transport.AppendEntriesResponse
		start := r.metrics.now()
		if err := r.trans.AppendEntries(p.id, p.addr, req, &out); err != nil {
			p.fails.failed(p, "heartbeat", err)
			return resp, false
		}
		p.fails.ok(p)
		r.replMeasure(p.id, replHeartbeat, start)
		resp.Type = core.MsgHeartbeatResp
		resp.Term, resp.Success, resp.LastLog = out.Term, out.Success, out.LastLog
	case core.MsgVote:
		req := &transport.RequestVoteRequest{RPCHeader: h, Term: m.Term, Candidate: h.Addr,
			LastLogIndex: m.LastLogIndex, LastLogTerm: m.LastLogTerm, LeadershipTransfer: m.LeadershipTransfer}
		var out transport.RequestVoteResponse
		defer r.metrics.MeasureSince(keyElectSelf, time.Now())
		if err := r.trans.RequestVote(p.id, p.addr, req, &out); err != nil {
			r.logger.Debug("requestVote failed", "peer", p.id, "error", err)
			return core.Message{}, true // no backoff: the election timer retries
		}
		resp.Type = core.MsgVoteResp
		resp.Term, resp.Granted = out.Term, out.Granted
	case core.MsgPreVote:
		pv, can := r.trans.(transport.WithPreVote)
		if !can {
			return core.Message{}, true
		}
		req := &transport.RequestPreVoteRequest{RPCHeader: h, Term: m.Term,
			LastLogIndex: m.LastLogIndex, LastLogTerm: m.LastLogTerm}
		var out transport.RequestPreVoteResponse
		defer r.metrics.MeasureSince(keyPreElectSelf, time.Now())
		if err := pv.RequestPreVote(p.id, p.addr, req, &out); err != nil {
			if strings.Contains(err.Error(), "unexpected command") {
				// A peer without pre-vote: its pre-vote counts as granted.
				resp.Type = core.MsgPreVoteResp
				resp.Term, resp.Granted = m.Term, true
				return resp, true
			}
			r.logger.Debug("requestPreVote failed", "peer", p.id, "error", err)
			return core.Message{}, true
		}
		resp.Type = core.MsgPreVoteResp
		resp.Term, resp.Granted = out.Term, out.Granted
	case core.MsgSnap:
		return p.sendSnapshot(m)
	case core.MsgReadIndex:
		resp.Type = core.MsgReadIndexResp
		ri, can := r.trans.(transport.WithReadIndex)
		if !can {
			return resp, true // Success=false: the read fails
		}
		var out transport.ReadIndexResponse
		if err := ri.ReadIndex(p.id, p.addr, &transport.ReadIndexRequest{RPCHeader: h, Term: m.Term}, &out); err != nil {
			r.logger.Debug("readIndex failed", "peer", p.id, "error", err)
			return resp, false // unreachable: the core fails the read at once
		}
		resp.Term, resp.Index, resp.Success = out.Term, out.Index, out.Success
	case core.MsgTimeoutNow:
		var out transport.TimeoutNowResponse
		if err := r.trans.TimeoutNow(p.id, p.addr, &transport.TimeoutNowRequest{RPCHeader: h}, &out); err != nil {
			r.logger.Debug("timeoutNow failed", "peer", p.id, "error", err)
			return core.Message{}, true
		}
		resp.Type = core.MsgTimeoutNowResp
	default:
		return core.Message{}, true
	}
	return resp, true
}

// sendFailures reports one peer's failing sends without flooding the log: a
// run of failures is logged at WARN once it has lasted a heartbeat timeout,
// then again at doubling intervals (up to failLogMaxInterval), at ERROR once
// it has lasted failErrorAfter or at once when retrying cannot help (a
// request over the frame limit); one INFO line when sends succeed again
// after a warning. Nothing is logged in steady state. Safe for concurrent
// use (a peer's senders share it).
type sendFailures struct {
	failing atomic.Bool // fast path of ok()
	mu      sync.Mutex
	// count and since describe the current run of failures; next is when
	// it may be logged again, interval the wait after that; warned is set
	// once it was logged.
	count    int
	since    time.Time
	next     time.Time
	interval time.Duration
	warned   bool
}

const (
	failLogFirstInterval = time.Second
	failLogMaxInterval   = time.Minute
	failErrorAfter       = 30 * time.Second
)

// failed records a failed send of what to p.
func (s *sendFailures) failed(p *peer, what string, err error) {
	if errors.Is(err, raft.ErrPipelineShutdown) {
		return // this side closed the pipeline
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing.Store(true)
	if s.count == 0 {
		s.since = now
		s.next = now.Add(p.r.conf.HeartbeatTimeout)
		s.interval = failLogFirstInterval
	}
	s.count++
	hopeless := errors.Is(err, raft.ErrMessageTooLarge)
	if now.Before(s.next) && !(hopeless && !s.warned) {
		p.r.logger.Debug("send to peer failed", "peer", p.id, "rpc", what, "error", err)
		return
	}
	s.next = now.Add(s.interval)
	s.interval = min(2*s.interval, failLogMaxInterval)
	s.warned = true
	args := []interface{}{"peer", p.id, "address", p.addr, "rpc", what, "failures", s.count,
		"failing_for", now.Sub(s.since).Round(time.Millisecond), "error", err}
	if hopeless || now.Sub(s.since) >= failErrorAfter {
		p.r.logger.Error("sends to peer keep failing", args...)
	} else {
		p.r.logger.Warn("sends to peer failing", args...)
	}
}

// ok records a successful send to p.
func (s *sendFailures) ok(p *peer) {
	if !s.failing.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.warned {
		p.r.logger.Info("sends to peer succeed again", "peer", p.id, "failures", s.count,
			"failed_for", time.Since(s.since).Round(time.Millisecond))
	}
	s.count, s.warned = 0, false
	s.failing.Store(false)
}
