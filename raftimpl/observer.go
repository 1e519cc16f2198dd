package raftimpl

import (
	"sync/atomic"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// Observation is sent to observers. Data is one of: raft.RaftState (state
// change), LeaderObservation, PeerObservation, FailedHeartbeatObservation,
// ResumedHeartbeatObservation, transport.RequestVoteRequest,
// transport.RequestPreVoteRequest (values, on receipt).
type Observation struct {
	Raft *Raft
	Data interface{}
}

// LeaderObservation reports a change of leader, including to none.
type LeaderObservation struct {
	// Leader is deprecated; it equals LeaderAddr.
	Leader     raft.ServerAddress
	LeaderAddr raft.ServerAddress
	LeaderID   raft.ServerID
}

// PeerObservation reports that the leader started (Removed=false) or stopped
// (Removed=true) replicating to a peer.
type PeerObservation struct {
	Removed bool
	Peer    raft.Server
}

// FailedHeartbeatObservation reports a peer the leader cannot heartbeat.
type FailedHeartbeatObservation struct {
	PeerID      raft.ServerID
	LastContact time.Time
}

// ResumedHeartbeatObservation reports a peer heartbeats reach again.
type ResumedHeartbeatObservation struct {
	PeerID raft.ServerID
}

// FilterFn selects the observations an observer receives.
type FilterFn func(o *Observation) bool

// Observer receives observations on a channel. A non-blocking observer drops
// observations when its channel is full, counting them.
type Observer struct {
	numObserved atomic.Uint64
	numDropped  atomic.Uint64

	channel  chan Observation
	blocking bool
	filter   FilterFn
	id       uint64
}

var nextObserverID atomic.Uint64

// NewObserver returns an observer sending to channel. A nil filter passes
// everything.
func NewObserver(channel chan Observation, blocking bool, filter FilterFn) *Observer {
	return &Observer{
		channel:  channel,
		blocking: blocking,
		filter:   filter,
		id:       nextObserverID.Add(1),
	}
}

// GetNumObserved returns how many observations were delivered.
func (or *Observer) GetNumObserved() uint64 { return or.numObserved.Load() }

// GetNumDropped returns how many observations were dropped.
func (or *Observer) GetNumDropped() uint64 { return or.numDropped.Load() }

// RegisterObserver adds an observer.
func (r *Raft) RegisterObserver(or *Observer) {
	r.observersMu.Lock()
	defer r.observersMu.Unlock()
	r.observers[or.id] = or
}

// DeregisterObserver removes an observer.
func (r *Raft) DeregisterObserver(or *Observer) {
	r.observersMu.Lock()
	defer r.observersMu.Unlock()
	delete(r.observers, or.id)
}

// observe sends o to every observer whose filter accepts it. Blocking
// observers are waited for, but never past shutdown.
func (r *Raft) observe(data interface{}) {
	o := Observation{Raft: r, Data: data}
	r.observersMu.RLock()
	defer r.observersMu.RUnlock()
	for _, or := range r.observers {
		if or.filter != nil && !or.filter(&o) {
			continue
		}
		if or.channel == nil {
			continue
		}
		if or.blocking {
			select {
			case or.channel <- o:
				or.numObserved.Add(1)
			case <-r.shutdownCh:
				return
			}
			continue
		}
		select {
		case or.channel <- o:
			or.numObserved.Add(1)
		default:
			or.numDropped.Add(1)
		}
	}
}
