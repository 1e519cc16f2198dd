package logstore

import "sort"

// segRef locates an entry's encoded bytes: segment seq, at off, n bytes.
type segRef struct {
	seq uint64
	off int64
	n   uint32
}

// segEnt is how a run keeps a ref: 8 bytes, the segment in the run's
// spans. Offsets fit: a segment is at most 4 GiB (rotateLocked).
type segEnt struct{ off, n uint32 }

// segSpan says that the run's entries from index from on (up to the next
// span) are in segment seq.
type segSpan struct{ from, seq uint64 }

// segChunk is how many entries a chunk of a run holds (64 KiB).
const segChunk = 8192

// segRun is a run of consecutive indexes, first to first+n-1. Entry
// first+k is chunks[(head+k)/segChunk][(head+k)%segChunk]: fixed-size
// chunks, so a long log costs 8 bytes per entry with no slack and no
// copying as it grows, and a prefix delete frees whole chunks.
//
// Invariant: n > 0; head < segChunk; spans is non-empty, sorted by from,
// spans[0].from == first, every from within the run, no two neighbours of
// the same seq.
type segRun struct {
	first  uint64
	n      int
	head   int
	chunks [][]segEnt
	spans  []segSpan
}

// last returns the run's last index. Runs are never empty.
func (r *segRun) last() uint64 { return r.first + uint64(r.n) - 1 }

// slot returns where entry first+k is kept.
func (r *segRun) slot(k int) *segEnt {
	p := r.head + k
	return &r.chunks[p/segChunk][p%segChunk]
}

// seqAt returns the segment of index i (in the run).
func (r *segRun) seqAt(i uint64) uint64 {
	s := sort.Search(len(r.spans), func(s int) bool { return r.spans[s].from > i }) - 1
	return r.spans[s].seq
}

// get returns the ref of index i (in the run).
func (r *segRun) get(i uint64) segRef {
	e := r.slot(int(i - r.first))
	return segRef{seq: r.seqAt(i), off: int64(e.off), n: e.n}
}

// push appends ref as entry last+1.
func (r *segRun) push(ref segRef) {
	p := r.head + r.n
	if p/segChunk == len(r.chunks) {
		r.chunks = append(r.chunks, make([]segEnt, segChunk))
	}
	r.chunks[p/segChunk][p%segChunk] = segEnt{off: uint32(ref.off), n: ref.n}
	i := r.first + uint64(r.n)
	if len(r.spans) == 0 || r.spans[len(r.spans)-1].seq != ref.seq {
		r.spans = append(r.spans, segSpan{from: i, seq: ref.seq})
	}
	r.n++
}

// newRun returns a run of refs from first.
func newRun(first uint64, refs []segRef) segRun {
	r := segRun{first: first}
	for _, ref := range refs {
		r.push(ref)
	}
	return r
}

// refs returns the refs of entries first+from to first+to-1.
func (r *segRun) refs(from, to int) []segRef {
	out := make([]segRef, 0, to-from)
	for k := from; k < to; k++ {
		out = append(out, r.get(r.first+uint64(k)))
	}
	return out
}

// segIndex maps log indexes to where their entries are. A raft log is one
// run; gaps (which the LogStore contract allows) start others. Raft's
// operations (append, delete a prefix, delete a suffix) are cheap; the
// others (a put before a run or filling a gap, a delete in a run's
// middle) copy the runs they touch.
//
// Invariant: runs are non-empty, sorted by first, and neither overlap nor
// touch (a run's last+1 is below the next one's first). Not safe for
// concurrent use: SegmentStore guards it.
type segIndex struct {
	runs []segRun
}

// bounds returns the first and last index, or 0, 0 if empty.
func (x *segIndex) bounds() (uint64, uint64) {
	if len(x.runs) == 0 {
		return 0, 0
	}
	return x.runs[0].first, x.runs[len(x.runs)-1].last()
}

// find returns the position of the run holding i, or -1.
func (x *segIndex) find(i uint64) int {
	// NB: the last run first: raft reads mostly recent entries.
	if n := len(x.runs); n > 0 && i >= x.runs[n-1].first {
		if i <= x.runs[n-1].last() {
			return n - 1
		}
		return -1
	}
	k := sort.Search(len(x.runs), func(k int) bool { return x.runs[k].first > i }) - 1
	if k >= 0 && i <= x.runs[k].last() {
		return k
	}
	return -1
}

// get returns the entry at i.
func (x *segIndex) get(i uint64) (segRef, bool) {
	k := x.find(i)
	if k < 0 {
		return segRef{}, false
	}
	return x.runs[k].get(i), true
}

// put sets the entry at i and returns the one it replaced, if any.
func (x *segIndex) put(i uint64, ref segRef) (old segRef, replaced bool) {
	n := len(x.runs)
	// The common case: appending to the last run.
	if n > 0 && x.runs[n-1].last()+1 == i && i != 0 {
		x.runs[n-1].push(ref)
		return segRef{}, false
	}
	k := sort.Search(n, func(k int) bool { return x.runs[k].first > i }) // first run after i
	if k > 0 {
		r := &x.runs[k-1]
		if i <= r.last() {
			old = r.get(i)
			r.replace(i, ref)
			return old, true
		}
		if r.last()+1 == i {
			r.push(ref)
			if k < n && x.runs[k].first == i+1 {
				next := &x.runs[k]
				for j := 0; j < next.n; j++ {
					r.push(next.get(next.first + uint64(j)))
				}
				x.runs = append(x.runs[:k], x.runs[k+1:]...)
			}
			return segRef{}, false
		}
	}
	if k < n && i != ^uint64(0) && x.runs[k].first == i+1 {
		r := &x.runs[k]
		*r = newRun(i, append([]segRef{ref}, r.refs(0, r.n)...))
		return segRef{}, false
	}
	x.runs = append(x.runs, segRun{})
	copy(x.runs[k+1:], x.runs[k:])
	x.runs[k] = newRun(i, []segRef{ref})
	return segRef{}, false
}

// replace sets the entry at i (in the run) to ref.
func (r *segRun) replace(i uint64, ref segRef) {
	*r.slot(int(i - r.first)) = segEnt{off: uint32(ref.off), n: ref.n}
	if r.seqAt(i) == ref.seq {
		return
	}
	// NB: rare (raft truncates and appends rather than overwriting):
	// rebuild the spans around i.
	var spans []segSpan
	add := func(from, seq uint64) {
		if len(spans) > 0 && spans[len(spans)-1].seq == seq {
			return
		}
		spans = append(spans, segSpan{from: from, seq: seq})
	}
	for s, sp := range r.spans {
		end := r.last()
		if s+1 < len(r.spans) {
			end = r.spans[s+1].from - 1
		}
		if i < sp.from || i > end {
			add(sp.from, sp.seq)
			continue
		}
		if i > sp.from {
			add(sp.from, sp.seq)
		}
		add(i, ref.seq)
		if i < end {
			spans = append(spans, segSpan{from: i + 1, seq: sp.seq})
		}
	}
	r.spans = spans
}

// dropPrefix removes the run's entries below i (first < i <= last).
func (r *segRun) dropPrefix(i uint64) {
	k := int(i - r.first)
	p := r.head + k
	// NB: the dropped chunks are cleared, not only sliced off: the
	// list's backing array would keep them reachable until it is next
	// reallocated (a 300 s soak grew by ~2 MB/s that way).
	clear(r.chunks[:p/segChunk])
	r.chunks = r.chunks[p/segChunk:]
	r.head = p % segChunk
	r.n -= k
	r.first = i
	s := sort.Search(len(r.spans), func(s int) bool { return r.spans[s].from > i }) - 1
	r.spans = r.spans[s:]
	r.spans[0].from = i
}

// dropSuffix removes the run's entries above i (first <= i < last).
func (r *segRun) dropSuffix(i uint64) {
	r.n = int(i-r.first) + 1
	p := r.head + r.n - 1
	// NB: capped, so a later push allocates a fresh chunk rather than
	// reusing one a copy of this run might share.
	clear(r.chunks[p/segChunk+1:])
	r.chunks = r.chunks[: p/segChunk+1 : p/segChunk+1]
	s := sort.Search(len(r.spans), func(s int) bool { return r.spans[s].from > i })
	r.spans = r.spans[:s:s]
}

// deleteRange removes the entries lo0 through hi0, calling drop for each
// one removed.
func (x *segIndex) deleteRange(lo0, hi0 uint64, drop func(segRef)) {
	if lo0 > hi0 {
		return
	}
	k := sort.Search(len(x.runs), func(k int) bool { return x.runs[k].last() >= lo0 })
	out := make([]segRun, 0, len(x.runs)+1)
	out = append(out, x.runs[:k]...)
	for ; k < len(x.runs) && x.runs[k].first <= hi0; k++ {
		r := x.runs[k]
		lo, hi := max(lo0, r.first), min(hi0, r.last())
		for i := lo; ; i++ {
			drop(r.get(i))
			if i == hi {
				break
			}
		}
		switch {
		case lo == r.first && hi == r.last():
			// All of it.
		case lo == r.first:
			r.dropPrefix(hi + 1)
			out = append(out, r)
		case hi == r.last():
			r.dropSuffix(lo - 1)
			out = append(out, r)
		default:
			// NB: the middle: the right part gets chunks of its own,
			// so the left part's pushes cannot write over it.
			right := newRun(hi+1, r.refs(int(hi+1-r.first), r.n))
			r.dropSuffix(lo - 1)
			out = append(out, r, right)
		}
	}
	x.runs = append(out, x.runs[k:]...)
}
