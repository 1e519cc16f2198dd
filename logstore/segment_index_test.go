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
			ref := segRef{seq: uint64(op), off: -1, n: uint32(op)}
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
	for k, r := range x.runs {
		if len(r.refs) == 0 || (k > 0 && x.runs[k-1].last()+1 >= r.first) {
			t.Fatalf("seed %d op %d: run %d [%d, +%d] breaks the invariant", seed, op, k, r.first, len(r.refs))
		}
		for j, ref := range r.refs {
			i := r.first + uint64(j)
			if m, ok := model[i]; !ok || m != ref {
				t.Fatalf("seed %d op %d: index has %d = %v, model %v %v", seed, op, i, ref, ok, m)
			}
			if got, ok := x.get(i); !ok || got != ref {
				t.Fatalf("seed %d op %d: get(%d) = %v %v", seed, op, i, got, ok)
			}
			n++
		}
		// A deleted prefix's memory is not kept: cap stays within a
		// small multiple of what is live.
		if cap(r.refs) > 4*len(r.refs)+8192 {
			t.Fatalf("seed %d op %d: run %d holds %d refs in a slice of %d", seed, op, k, len(r.refs), cap(r.refs))
		}
	}
	if n != len(model) {
		t.Fatalf("seed %d op %d: %d entries in the index, %d in the model", seed, op, n, len(model))
	}
	if _, ok := x.get(last + 1); ok {
		t.Fatalf("seed %d op %d: get past the last index", seed, op)
	}
}

// A large prefix delete (compaction) moves what is left to a new slice,
// so the deleted refs' memory is not kept until the slice next grows;
// a small one does not copy.
func TestSegIndexReleasesDeletedPrefix(t *testing.T) {
	var x segIndex
	for i := uint64(1); i <= 100000; i++ {
		x.put(i, segRef{seq: 1, off: int64(i)})
	}
	before := x.runs[0].refs
	x.deleteRange(1, 1000, func(segRef) {})
	if &x.runs[0].refs[0] != &before[1000] {
		t.Fatal("a small prefix delete copied the run")
	}
	x.deleteRange(1001, 90000, func(segRef) {})
	r := x.runs[0]
	if &r.refs[0] == &before[90000] {
		t.Fatal("a large prefix delete kept the deleted refs' array")
	}
	if r.first != 90001 || len(r.refs) != 10000 || cap(r.refs) > 20000 || r.refs[0].off != 90001 || r.refs[9999].off != 100000 {
		t.Fatalf("run [%d, +%d] (cap %d), refs %v..%v", r.first, len(r.refs), cap(r.refs), r.refs[0], r.refs[len(r.refs)-1])
	}
}
