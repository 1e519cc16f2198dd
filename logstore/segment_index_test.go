package logstore

import (
	"math/rand"
	"sort"
	"testing"
)

// segIndex against a map, over seeded random puts (mostly appends, some
// anywhere) and deletes (mostly prefixes, as compaction), with runs long
// enough for the paths that double and that release a deleted prefix.
func TestSegIndexModel(t *testing.T) {
	seed := rand.Int63()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	var x segIndex
	model := map[uint64]segRef{}
	next := uint64(1)
	for op := 0; op < 3000; op++ {
		switch r := rng.Intn(20); {
		case r < 14: // append a batch
			for n := rng.Intn(400); n >= 0; n-- {
				ref := segRef{seq: uint64(op), off: int64(next), n: uint32(op)}
				x.put(next, ref)
				model[next] = ref
				next++
			}
		case r < 16: // put anywhere (an overwrite, a gap, before the first)
			i := uint64(rng.Int63n(int64(next + 50)))
			ref := segRef{seq: uint64(op), off: int64(op) << 20, n: uint32(op)}
			old, replaced := x.put(i, ref)
			if m, ok := model[i]; ok != replaced || (ok && m != old) {
				t.Fatalf("seed %d op %d: put(%d) replaced %v %v, model %v %v", seed, op, i, replaced, old, ok, m)
			}
			model[i] = ref
			next = max(next, i+1)
		case r < 18: // delete a prefix, not all of it
			first, last := x.bounds()
			if last == first {
				continue
			}
			hi := first + uint64(rng.Int63n(int64(last-first)))
			x.deleteRange(0, hi, func(segRef) {})
			for i := range model {
				if i <= hi {
					delete(model, i)
				}
			}
		default: // delete a range anywhere
			lo := uint64(rng.Int63n(int64(next + 1)))
			hi := lo + uint64(rng.Intn(100))
			dropped := 0
			x.deleteRange(lo, hi, func(segRef) { dropped++ })
			want := 0
			for i := range model {
				if i >= lo && i <= hi {
					delete(model, i)
					want++
				}
			}
			if dropped != want {
				t.Fatalf("seed %d op %d: deleteRange(%d, %d) dropped %d, model %d", seed, op, lo, hi, dropped, want)
			}
		}
		if op%25 == 0 || op > 2990 {
			checkSegIndex(t, &x, model, seed, op)
		}
	}
}

// checkSegIndex compares x with model and checks its invariant.
func checkSegIndex(t *testing.T, x *segIndex, model map[uint64]segRef, seed int64, op int) {
	t.Helper()
	keys := make([]uint64, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	first, last := x.bounds()
	if len(keys) == 0 {
		if first != 0 || last != 0 || len(x.runs) != 0 {
			t.Fatalf("seed %d op %d: empty model, index [%d, %d] in %d runs", seed, op, first, last, len(x.runs))
		}
		return
	}
	if first != keys[0] || last != keys[len(keys)-1] {
		t.Fatalf("seed %d op %d: bounds [%d, %d], model [%d, %d]", seed, op, first, last, keys[0], keys[len(keys)-1])
	}
	n := 0
	for k := range x.runs {
		r := &x.runs[k]
		if r.n == 0 || (k > 0 && x.runs[k-1].last()+1 >= r.first) {
			t.Fatalf("seed %d op %d: run %d [%d, +%d] breaks the invariant", seed, op, k, r.first, r.n)
		}
		if len(r.spans) == 0 || r.spans[0].from != r.first || r.head >= segChunk {
			t.Fatalf("seed %d op %d: run %d [%d, +%d]: head %d, spans %v", seed, op, k, r.first, r.n, r.head, r.spans)
		}
		for s := 1; s < len(r.spans); s++ {
			if r.spans[s].from <= r.spans[s-1].from || r.spans[s].from > r.last() || r.spans[s].seq == r.spans[s-1].seq {
				t.Fatalf("seed %d op %d: run %d [%d, +%d]: spans %v", seed, op, k, r.first, r.n, r.spans)
			}
		}
		// A deleted prefix's memory is not kept, and no chunk is
		// allocated ahead.
		if want := (r.head+r.n-1)/segChunk + 1; len(r.chunks) != want {
			t.Fatalf("seed %d op %d: run %d holds %d entries (head %d) in %d chunks, want %d", seed, op, k, r.n, r.head, len(r.chunks), want)
		}
		for j, ref := range r.refs(0, r.n) {
			i := r.first + uint64(j)
			if m, ok := model[i]; !ok || m != ref {
				t.Fatalf("seed %d op %d: index has %d = %v, model %v %v", seed, op, i, ref, ok, m)
			}
			if got, ok := x.get(i); !ok || got != ref {
				t.Fatalf("seed %d op %d: get(%d) = %v %v", seed, op, i, got, ok)
			}
			n++
		}
	}
	if n != len(model) {
		t.Fatalf("seed %d op %d: %d entries in the index, %d in the model", seed, op, n, len(model))
	}
	if _, ok := x.get(last + 1); ok {
		t.Fatalf("seed %d op %d: get past the last index", seed, op)
	}
}

// A prefix delete (compaction) frees the deleted entries' chunks; a run
// of a million entries takes 8 bytes per entry.
func TestSegIndexReleasesDeletedPrefix(t *testing.T) {
	var x segIndex
	for i := uint64(1); i <= 1_000_000; i++ {
		x.put(i, segRef{seq: 1 + i/300_000, off: int64(i), n: uint32(i)})
	}
	r := &x.runs[0]
	if len(r.chunks) != (1_000_000+segChunk-1)/segChunk || len(r.spans) != 4 {
		t.Fatalf("%d chunks, %d spans for a million entries in 4 segments", len(r.chunks), len(r.spans))
	}
	all := r.chunks
	x.deleteRange(1, 990_000, func(segRef) {})
	for c, chunk := range all[:990_000/segChunk] {
		if chunk != nil {
			t.Fatalf("chunk %d, all of it deleted, is still referenced", c)
		}
	}
	r = &x.runs[0]
	if r.first != 990_001 || r.n != 10_000 || len(r.chunks) != (r.head+r.n-1)/segChunk+1 || len(r.spans) != 1 {
		t.Fatalf("run [%d, +%d] in %d chunks, spans %v", r.first, r.n, len(r.chunks), r.spans)
	}
	if got := r.get(990_001); got != (segRef{seq: 4, off: 990_001, n: 990_001}) {
		t.Fatalf("first entry %v", got)
	}
	if got := r.get(1_000_000); got != (segRef{seq: 4, off: 1_000_000, n: 1_000_000}) {
		t.Fatalf("last entry %v", got)
	}
}
