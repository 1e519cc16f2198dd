package tracker

// Inflights bounds the MsgApp messages sent to one follower and not yet
// acknowledged. Each message is remembered by the last log index it carried
// (for a message without entries: the index it ended at, its PrevLogIndex).
//
// Invariant: the recorded indexes are non-decreasing from oldest to newest,
// because the leader never sends a message ending before an earlier one while
// in StateReplicate; Reset is called on every state change.
type Inflights struct {
	// buf is a ring of capacity max; start is the oldest slot; count the
	// number of used slots.
	buf   []uint64
	start int
	count int
	max   int
}

// NewInflights returns an empty window of capacity max (at least 1).
func NewInflights(max int) *Inflights {
	if max < 1 {
		max = 1
	}
	return &Inflights{max: max}
}

// Full reports whether no more messages may be sent.
func (in *Inflights) Full() bool { return in.count >= in.max }

// Count returns the number of messages in flight.
func (in *Inflights) Count() int { return in.count }

// Cap returns the window's capacity.
func (in *Inflights) Cap() int { return in.max }

// Add records a message ending at index. The caller checks Full first; Add
// on a full window is ignored.
func (in *Inflights) Add(index uint64) {
	if in.Full() {
		return
	}
	if in.buf == nil {
		// NB: allocated lazily, since most followers of a quiet leader never
		// have more than one message in flight.
		in.buf = make([]uint64, in.max)
	}
	in.buf[(in.start+in.count)%in.max] = index
	in.count++
}

// FreeLE forgets every message ending at or before index: the follower holds
// everything up to index, so they were delivered (or no longer matter).
func (in *Inflights) FreeLE(index uint64) {
	for in.count > 0 && in.buf[in.start] <= index {
		in.start = (in.start + 1) % in.max
		in.count--
	}
	if in.count == 0 {
		in.start = 0
	}
}

// FreeFirst forgets the oldest message: used when the window is full and the
// follower answered a heartbeat, which suggests a message was lost.
func (in *Inflights) FreeFirst() {
	if in.count == 0 {
		return
	}
	in.start = (in.start + 1) % in.max
	in.count--
}

// Reset forgets every message.
func (in *Inflights) Reset() {
	in.start, in.count = 0, 0
}
