package logstore

import "sort"

// segRef locates an entry's encoded bytes: segment seq, at off, n bytes.
// It holds no pointers, so a long log's index costs the GC nothing.
type segRef struct {
	seq uint64
	off int64
	n   uint32
}

// segRun is a run of consecutive indexes: refs[i] is entry first+i.
type segRun struct {
	first uint64
	refs  []segRef
}

// last returns the run's last index. Runs are never empty.
func (r *segRun) last() uint64 { return r.first + uint64(len(r.refs)) - 1 }

// segIndex maps log indexes to where their entries are. A raft log is one
// run; gaps (which the LogStore contract allows) start others.
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
	r := &x.runs[k]
	return r.refs[i-r.first], true
}

// put sets the entry at i and returns the one it replaced, if any.
func (x *segIndex) put(i uint64, ref segRef) (old segRef, replaced bool) {
	n := len(x.runs)
	// The common case: appending to the last run.
	if n > 0 && x.runs[n-1].last()+1 == i && i != 0 {
		x.runs[n-1].refs = appendRef(x.runs[n-1].refs, ref)
		return segRef{}, false
	}
	k := sort.Search(n, func(k int) bool { return x.runs[k].first > i }) // first run after i
	if k > 0 {
		r := &x.runs[k-1]
		if i <= r.last() {
			old = r.refs[i-r.first]
			r.refs[i-r.first] = ref
			return old, true
		}
		if r.last()+1 == i {
			r.refs = appendRef(r.refs, ref)
			if k < n && x.runs[k].first == i+1 {
				r.refs = append(r.refs, x.runs[k].refs...)
				x.runs = append(x.runs[:k], x.runs[k+1:]...)
			}
			return segRef{}, false
		}
	}
	if k < n && i != ^uint64(0) && x.runs[k].first == i+1 {
		r := &x.runs[k]
		r.refs = append([]segRef{ref}, r.refs...)
		r.first = i
		return segRef{}, false
	}
	x.runs = append(x.runs, segRun{})
	copy(x.runs[k+1:], x.runs[k:])
	x.runs[k] = segRun{first: i, refs: []segRef{ref}}
	return segRef{}, false
}

// appendRef appends ref, doubling a full slice: append grows a large
// slice by a quarter, which for a long log re-copies it about five times
// over (5% of a follower's CPU at 1 KiB/256 clients in the bench).
func appendRef(refs []segRef, ref segRef) []segRef {
	if len(refs) == cap(refs) && len(refs) >= 1024 {
		grown := make([]segRef, len(refs), 2*len(refs))
		copy(grown, refs)
		refs = grown
	}
	return append(refs, ref)
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
		for _, ref := range r.refs[lo-r.first : hi-r.first+1] {
			drop(ref)
		}
		if lo > r.first {
			// NB: capped, so appending to the left part cannot write
			// over the right part's entries.
			left := r.refs[: lo-r.first : lo-r.first]
			out = append(out, segRun{first: r.first, refs: left})
		}
		if hi < r.last() {
			skip := hi - r.first + 1
			right := r.refs[skip:]
			if skip > 4096 && skip > uint64(len(right)) {
				// NB: a prefix delete (compaction) would keep the
				// deleted refs' memory until the slice next grows.
				right = append(make([]segRef, 0, max(2*len(right), 1024)), right...)
			}
			out = append(out, segRun{first: hi + 1, refs: right})
		}
	}
	x.runs = append(out, x.runs[k:]...)
}

// each calls f for every entry, in index order.
func (x *segIndex) each(f func(segRef)) {
	for _, r := range x.runs {
		for _, ref := range r.refs {
			f(ref)
		}
	}
}
