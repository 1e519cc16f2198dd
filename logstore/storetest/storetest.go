// Package storetest is the conformance suite for logstore.LogStore and
// logstore.StableStore implementations. Every store Pontoon ships runs it,
// and so can a user's own store:
//
//	func TestMyStore(t *testing.T) {
//		storetest.LogStore(t, func(t *testing.T) logstore.LogStore { return newMyStore(t) })
//	}
//
// The suite checks behaviour the engine relies on: boundaries of an empty
// and a gapped log, the identity of raft.ErrLogNotFound, that every field
// of an entry survives, that the store does not keep the caller's slices,
// DeleteRange at every position, agreement with a simple model over a long
// seeded random run, and concurrent use (run it with -race).
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
)

// LogStore runs the LogStore suite. newStore returns a new, empty store for
// each subtest; it should register any cleanup with t.Cleanup.
func LogStore(t *testing.T, newStore func(t *testing.T) logstore.LogStore) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newStore(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("CallerOwnsInput", func(t *testing.T) { testCallerOwnsInput(t, newStore(t)) })
	t.Run("BatchBoundaries", func(t *testing.T) { testBatchBoundaries(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, newStore(t)) })
	t.Run("DeleteRange", func(t *testing.T) { testDeleteRange(t, newStore) })
	t.Run("LargeDeleteRange", func(t *testing.T) { testLargeDeleteRange(t, newStore(t)) })
	t.Run("Model", func(t *testing.T) { testModel(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
}

// MakeLog returns a deterministic entry for index, with data of size bytes.
func MakeLog(index uint64, size int) *raft.Log {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(index) + byte(i)
	}
	return &raft.Log{
		Index:      index,
		Term:       index/10 + 1,
		Type:       raft.LogCommand,
		Data:       data,
		AppendedAt: time.Unix(1700000000, int64(index)).UTC(),
	}
}

// RequireLogEqual fails t unless got and want have the same fields. Data and
// Extensions compare by content (nil equals empty) and AppendedAt by instant
// and zone offset.
func RequireLogEqual(t testing.TB, want, got *raft.Log) {
	t.Helper()
	if err := LogDiff(want, got); err != nil {
		t.Fatal(err)
	}
}

// LogDiff returns an error describing how got differs from want, or nil.
func LogDiff(want, got *raft.Log) error {
	_, wo := want.AppendedAt.Zone()
	_, gotOff := got.AppendedAt.Zone()
	switch {
	case want.Index != got.Index, want.Term != got.Term, want.Type != got.Type:
		return fmt.Errorf("log %d: got index/term/type %d/%d/%v, want %d/%d/%v",
			want.Index, got.Index, got.Term, got.Type, want.Index, want.Term, want.Type)
	case !bytes.Equal(want.Data, got.Data):
		return fmt.Errorf("log %d: Data differs: got %d bytes, want %d", want.Index, len(got.Data), len(want.Data))
	case !bytes.Equal(want.Extensions, got.Extensions):
		return fmt.Errorf("log %d: Extensions differ: got %q, want %q", want.Index, got.Extensions, want.Extensions)
	case !want.AppendedAt.Equal(got.AppendedAt) || wo != gotOff:
		return fmt.Errorf("log %d: AppendedAt got %v, want %v", want.Index, got.AppendedAt, want.AppendedAt)
	}
	return nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bounds(t testing.TB, s logstore.LogStore) (uint64, uint64) {
	t.Helper()
	first, err := s.FirstIndex()
	must(t, err)
	last, err := s.LastIndex()
	must(t, err)
	return first, last
}

func requireBounds(t testing.TB, s logstore.LogStore, wantFirst, wantLast uint64) {
	t.Helper()
	first, last := bounds(t, s)
	if first != wantFirst || last != wantLast {
		t.Fatalf("bounds = [%d, %d], want [%d, %d]", first, last, wantFirst, wantLast)
	}
}

func requireMissing(t testing.TB, s logstore.LogStore, index uint64) {
	t.Helper()
	var l raft.Log
	//nolint:errorlint // the identity is the contract: hashicorp/raft compares with ==.
	if err := s.GetLog(index, &l); err != raft.ErrLogNotFound {
		t.Fatalf("GetLog(%d) = %v, want raft.ErrLogNotFound itself", index, err)
	}
}

func requireLog(t testing.TB, s logstore.LogStore, want *raft.Log) {
	t.Helper()
	var got raft.Log
	if err := s.GetLog(want.Index, &got); err != nil {
		t.Fatalf("GetLog(%d): %v", want.Index, err)
	}
	RequireLogEqual(t, want, &got)
}

func storeRange(t testing.TB, s logstore.LogStore, first, last uint64, size int) []*raft.Log {
	t.Helper()
	var logs []*raft.Log
	for i := first; i <= last; i++ {
		logs = append(logs, MakeLog(i, size))
	}
	must(t, s.StoreLogs(logs))
	return logs
}

func testEmpty(t *testing.T, s logstore.LogStore) {
	requireBounds(t, s, 0, 0)
	requireMissing(t, s, 0)
	requireMissing(t, s, 1)
	requireMissing(t, s, math.MaxUint64)
	must(t, s.DeleteRange(1, 100))
	must(t, s.StoreLogs(nil))
	requireBounds(t, s, 0, 0)
}

func testRoundTrip(t *testing.T, s logstore.LogStore) {
	east := time.FixedZone("east", 5*3600+30*60)
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte{0x81, 0xa7}, AppendedAt: time.Time{}},
		{Index: 2, Term: 2, Type: raft.LogNoop, AppendedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Index: 3, Term: 2, Type: raft.LogCommand, Data: []byte("x"), Extensions: []byte("ext"),
			AppendedAt: time.Date(2030, 12, 31, 23, 59, 59, 999999999, east)},
		{Index: 4, Term: 200, Type: raft.LogBarrier, Data: []byte{}, Extensions: []byte{}},
		{Index: 5, Term: 70000, Type: raft.LogType(200), Data: bytes.Repeat([]byte{7}, 31)},
		{Index: 6, Term: 1 << 33, Type: raft.LogCommand, Data: bytes.Repeat([]byte{8}, 32)},
		{Index: 7, Term: math.MaxUint64, Type: raft.LogCommand, Data: bytes.Repeat([]byte{9}, 65535)},
		{Index: 8, Term: 3, Type: raft.LogCommand, Data: bytes.Repeat([]byte{10}, 65536), Extensions: bytes.Repeat([]byte{1}, 300)},
		{Index: 1 << 40, Term: 3, Type: raft.LogAddPeerDeprecated, Data: []byte("far")},
		{Index: math.MaxUint64 - 1, Term: 3, Type: raft.LogRemovePeerDeprecated},
	}
	must(t, s.StoreLog(logs[0]))
	must(t, s.StoreLogs(logs[1:]))
	for _, l := range logs {
		requireLog(t, s, l)
	}
	requireBounds(t, s, 1, math.MaxUint64-1)
	requireMissing(t, s, 9)
	requireMissing(t, s, math.MaxUint64)
}

func testCallerOwnsInput(t *testing.T, s logstore.LogStore) {
	l := MakeLog(1, 16)
	l.Extensions = []byte("ext")
	want := *l
	want.Data = append([]byte(nil), l.Data...)
	want.Extensions = append([]byte(nil), l.Extensions...)
	must(t, s.StoreLog(l))
	for i := range l.Data {
		l.Data[i] = 0xff
	}
	l.Extensions[0] = 'X'
	l.Term = 99
	requireLog(t, s, &want)

	// A reused destination must be fully overwritten.
	dst := raft.Log{Index: 5, Term: 5, Data: []byte("stale"), Extensions: []byte("stale")}
	must(t, s.StoreLog(&raft.Log{Index: 2, Term: 1}))
	must(t, s.GetLog(2, &dst))
	RequireLogEqual(t, &raft.Log{Index: 2, Term: 1}, &dst)
}

func testBatchBoundaries(t *testing.T, s logstore.LogStore) {
	logs := storeRange(t, s, 10, 200, 100)
	requireBounds(t, s, 10, 200)
	for _, l := range logs {
		requireLog(t, s, l)
	}
	requireMissing(t, s, 9)
	requireMissing(t, s, 201)
	storeRange(t, s, 201, 201, 1)
	requireBounds(t, s, 10, 201)
}

func testOverwrite(t *testing.T, s logstore.LogStore) {
	storeRange(t, s, 1, 10, 8)
	// A follower truncates a conflicting suffix and writes the leader's.
	must(t, s.DeleteRange(6, 10))
	requireBounds(t, s, 1, 5)
	var repl []*raft.Log
	for i := uint64(6); i <= 8; i++ {
		l := MakeLog(i, 20)
		l.Term = 9
		repl = append(repl, l)
	}
	must(t, s.StoreLogs(repl))
	requireBounds(t, s, 1, 8)
	for _, l := range repl {
		requireLog(t, s, l)
	}
	// Overwriting in place also works.
	l := MakeLog(3, 5)
	l.Term = 42
	must(t, s.StoreLog(l))
	requireLog(t, s, l)
	requireBounds(t, s, 1, 8)
}

func testDeleteRange(t *testing.T, newStore func(t *testing.T) logstore.LogStore) {
	cases := []struct {
		name               string
		min, max           uint64
		wantFirst, wantLst uint64
	}{
		{"prefix", 1, 4, 5, 20},
		{"prefix from 0", 0, 4, 5, 20},
		{"suffix", 15, 20, 1, 14},
		{"suffix beyond", 15, math.MaxUint64, 1, 14},
		{"middle", 5, 10, 1, 20},
		{"all", 1, 20, 0, 0},
		{"all and more", 0, math.MaxUint64, 0, 0},
		{"before", 0, 0, 1, 20},
		{"after", 21, 100, 1, 20},
		{"empty range", 10, 9, 1, 20},
		{"single first", 1, 1, 2, 20},
		{"single last", 20, 20, 1, 19},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			logs := storeRange(t, s, 1, 20, 10)
			must(t, s.DeleteRange(c.min, c.max))
			requireBounds(t, s, c.wantFirst, c.wantLst)
			for _, l := range logs {
				if c.min <= c.max && l.Index >= c.min && l.Index <= c.max {
					requireMissing(t, s, l.Index)
				} else {
					requireLog(t, s, l)
				}
			}
		})
	}
	t.Run("gap then prefix", func(t *testing.T) {
		s := newStore(t)
		storeRange(t, s, 1, 20, 10)
		must(t, s.DeleteRange(3, 6))
		must(t, s.DeleteRange(1, 2))
		requireBounds(t, s, 7, 20)
		must(t, s.DeleteRange(15, 20))
		must(t, s.DeleteRange(10, 12))
		requireBounds(t, s, 7, 14)
		must(t, s.DeleteRange(13, 14))
		requireBounds(t, s, 7, 9)
	})
}

func testLargeDeleteRange(t *testing.T, s logstore.LogStore) {
	for first := uint64(1); first <= 6000; first += 1000 {
		storeRange(t, s, first, first+999, 64)
	}
	must(t, s.DeleteRange(1, 4321))
	requireBounds(t, s, 4322, 6000)
	for i := uint64(1); i <= 6000; i += 7 {
		if i <= 4321 {
			requireMissing(t, s, i)
		} else {
			requireLog(t, s, MakeLog(i, 64))
		}
	}
	must(t, s.DeleteRange(4500, 5999))
	requireBounds(t, s, 4322, 6000)
	requireMissing(t, s, 5999)
	requireLog(t, s, MakeLog(4499, 64))
}

// testModel runs seeded random operations against the store and a map.
// STORETEST_SEED replays a logged seed.
func testModel(t *testing.T, s logstore.LogStore) {
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv("STORETEST_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	model := map[uint64]*raft.Log{}
	for op := 0; op < 400; op++ {
		switch r := rng.Intn(10); {
		case r < 6: // append or overwrite a batch
			_, last := bounds(t, s)
			start := last + 1
			if last > 0 && rng.Intn(4) == 0 {
				start = uint64(rng.Int63n(int64(last))) + 1
			}
			n := rng.Intn(20) + 1
			var batch []*raft.Log
			for i := 0; i < n; i++ {
				l := MakeLog(start+uint64(i), rng.Intn(100))
				l.Term = uint64(op)
				batch = append(batch, l)
			}
			if err := s.StoreLogs(batch); err != nil {
				t.Fatalf("seed %d op %d: %v", seed, op, err)
			}
			for _, l := range batch {
				model[l.Index] = l
			}
		default:
			_, last := bounds(t, s)
			lo := uint64(rng.Int63n(int64(last) + 2))
			hi := lo + uint64(rng.Intn(30))
			if err := s.DeleteRange(lo, hi); err != nil {
				t.Fatalf("seed %d op %d: %v", seed, op, err)
			}
			for i := range model {
				if i >= lo && i <= hi {
					delete(model, i)
				}
			}
		}
		var keys []uint64
		for k := range model {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		var wantFirst, wantLast uint64
		if len(keys) > 0 {
			wantFirst, wantLast = keys[0], keys[len(keys)-1]
		}
		first, last := bounds(t, s)
		if first != wantFirst || last != wantLast {
			t.Fatalf("seed %d op %d: bounds [%d, %d], model [%d, %d]", seed, op, first, last, wantFirst, wantLast)
		}
		for i := wantFirst; i <= wantLast+1 && i < wantFirst+200; i++ {
			var got raft.Log
			err := s.GetLog(i, &got)
			want, ok := model[i]
			switch {
			case !ok && err != raft.ErrLogNotFound: //nolint:errorlint
				t.Fatalf("seed %d op %d: GetLog(%d) = %v, want ErrLogNotFound", seed, op, i, err)
			case ok && err != nil:
				t.Fatalf("seed %d op %d: GetLog(%d): %v", seed, op, i, err)
			case ok:
				if d := LogDiff(want, &got); d != nil {
					t.Fatalf("seed %d op %d: %v", seed, op, d)
				}
			}
		}
	}
}

func testConcurrent(t *testing.T, s logstore.LogStore) {
	storeRange(t, s, 1, 100, 32)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				first, err := s.FirstIndex()
				if err != nil {
					errs <- err
					return
				}
				// Entries 1..100 are never deleted or overwritten below.
				var l raft.Log
				if err := s.GetLog(50, &l); err != nil {
					errs <- err
					return
				}
				if d := LogDiff(MakeLog(50, 32), &l); d != nil {
					errs <- d
					return
				}
				_ = first
			}
		}()
	}
	for i := uint64(101); i <= 300; i += 10 {
		if err := s.StoreLogs([]*raft.Log{MakeLog(i, 32), MakeLog(i+1, 32)}); err != nil {
			t.Error(err)
			break
		}
		// Fill the rest so the log stays contiguous.
		for j := i + 2; j < i+10; j++ {
			if err := s.StoreLog(MakeLog(j, 32)); err != nil {
				t.Error(err)
			}
		}
		if i > 200 {
			if err := s.DeleteRange(i-100, i-91); err != nil {
				t.Error(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// StableStore runs the StableStore suite. newStore returns a new, empty
// store for each subtest.
func StableStore(t *testing.T, newStore func(t *testing.T) logstore.StableStore) {
	t.Run("Missing", func(t *testing.T) {
		s := newStore(t)
		v, err := s.Get([]byte("CurrentTerm"))
		if !errors.Is(err, raft.ErrKeyNotFound) || err.Error() != "not found" || v != nil {
			t.Fatalf("Get(missing) = %q, %v; want nil, \"not found\"", v, err)
		}
		u, err := s.GetUint64([]byte("CurrentTerm"))
		if u != 0 || (err != nil && (!errors.Is(err, raft.ErrKeyNotFound) || err.Error() != "not found")) {
			t.Fatalf("GetUint64(missing) = %d, %v; want 0 and nil or \"not found\"", u, err)
		}
	})
	t.Run("Bytes", func(t *testing.T) {
		s := newStore(t)
		key, val := []byte("LastVoteCand"), []byte("127.0.0.1:7000")
		must(t, s.Set(key, val))
		val[0] = 'X'
		key[0] = 'X'
		got, err := s.Get([]byte("LastVoteCand"))
		must(t, err)
		if string(got) != "127.0.0.1:7000" {
			t.Fatalf("Get = %q", got)
		}
		got[0] = 'Y'
		again, err := s.Get([]byte("LastVoteCand"))
		must(t, err)
		if string(again) != "127.0.0.1:7000" {
			t.Fatalf("Get after mutating a returned value = %q", again)
		}
		must(t, s.Set([]byte("LastVoteCand"), []byte("n2")))
		got, err = s.Get([]byte("LastVoteCand"))
		must(t, err)
		if string(got) != "n2" {
			t.Fatalf("Get after overwrite = %q", got)
		}
		must(t, s.Set([]byte("empty"), []byte{}))
		got, err = s.Get([]byte("empty"))
		if err != nil || len(got) != 0 {
			t.Fatalf("Get(empty value) = %q, %v", got, err)
		}
		big := bytes.Repeat([]byte("v"), 100000)
		must(t, s.Set([]byte("big"), big))
		got, err = s.Get([]byte("big"))
		must(t, err)
		if !bytes.Equal(got, big) {
			t.Fatal("big value differs")
		}
	})
	t.Run("Uint64", func(t *testing.T) {
		s := newStore(t)
		for _, v := range []uint64{0, 1, 3, 1 << 40, math.MaxUint64} {
			must(t, s.SetUint64([]byte("CurrentTerm"), v))
			got, err := s.GetUint64([]byte("CurrentTerm"))
			must(t, err)
			if got != v {
				t.Fatalf("GetUint64 = %d, want %d", got, v)
			}
		}
		must(t, s.SetUint64([]byte("LastVoteTerm"), 7))
		got, err := s.GetUint64([]byte("CurrentTerm"))
		must(t, err)
		if got != math.MaxUint64 {
			t.Fatalf("keys interfere: CurrentTerm = %d", got)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				key := []byte(fmt.Sprintf("k%d", g))
				for i := uint64(1); i <= 20; i++ {
					if err := s.SetUint64(key, i); err != nil {
						t.Error(err)
						return
					}
					if v, err := s.GetUint64(key); err != nil || v != i {
						t.Errorf("GetUint64(%s) = %d, %v; want %d", key, v, err, i)
						return
					}
				}
			}(g)
		}
		wg.Wait()
	})
}
