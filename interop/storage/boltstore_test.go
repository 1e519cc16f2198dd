package storage

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"go.etcd.io/bbolt"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// stableKeys are written by hashicorp/raft (and Pontoon's engine).
var stableKeys = map[string][]byte{"LastVoteCand": []byte("127.0.0.1:7000"), "custom": {0, 1, 2}}
var stableUints = map[string]uint64{"CurrentTerm": 3, "LastVoteTerm": 2}

func TestRaftBoltDBFileOpensInPontoon(t *testing.T) {
	for _, newTime := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "MsgpackUseNewTimeFormat"}[newTime], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			h, err := raftboltdb.New(raftboltdb.Options{Path: path, MsgpackUseNewTimeFormat: newTime})
			must(t, err)
			var hl []*hraft.Log
			for _, l := range sampleLogs() {
				hl = append(hl, toHashicorp(l))
			}
			must(t, h.StoreLog(hl[0]))
			must(t, h.StoreLogs(hl[1:]))
			for k, v := range stableKeys {
				must(t, h.Set([]byte(k), v))
			}
			for k, v := range stableUints {
				must(t, h.SetUint64([]byte(k), v))
			}
			must(t, h.Close())

			p, err := logstore.NewBoltStore(path)
			must(t, err)
			defer p.Close()
			want := sampleLogs()
			if newTime {
				// The new format keeps the instant, not the zone.
				for _, l := range want {
					l.AppendedAt = l.AppendedAt.UTC()
				}
			}
			checkPontoon(t, p, want)

			// Pontoon appends and truncates; raft-boltdb reads the result.
			must(t, p.DeleteRange(300, 300))
			extra := &raft.Log{Index: 9, Term: 9, Type: raft.LogCommand, Data: []byte("from pontoon")}
			must(t, p.StoreLog(extra))
			must(t, p.SetUint64([]byte("CurrentTerm"), 9))
			must(t, p.Close())

			h, err = raftboltdb.NewBoltStore(path)
			must(t, err)
			defer h.Close()
			checkHashicorp(t, h, append(want[:8], extra))
			if v, err := h.GetUint64([]byte("CurrentTerm")); err != nil || v != 9 {
				t.Fatalf("raft-boltdb CurrentTerm = %d, %v", v, err)
			}
		})
	}
}

func TestPontoonFileOpensInRaftBoltDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	p, err := logstore.NewBoltStore(path)
	must(t, err)
	logs := sampleLogs()
	must(t, p.StoreLog(logs[0]))
	must(t, p.StoreLogs(logs[1:]))
	for k, v := range stableKeys {
		must(t, p.Set([]byte(k), v))
	}
	for k, v := range stableUints {
		must(t, p.SetUint64([]byte(k), v))
	}
	must(t, p.Close())

	h, err := raftboltdb.NewBoltStore(path)
	must(t, err)
	checkHashicorp(t, h, logs)
	for k, v := range stableKeys {
		got, err := h.Get([]byte(k))
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("raft-boltdb Get(%s) = %q, %v", k, got, err)
		}
	}
	for k, v := range stableUints {
		got, err := h.GetUint64([]byte(k))
		if err != nil || got != v {
			t.Fatalf("raft-boltdb GetUint64(%s) = %d, %v", k, got, err)
		}
	}
	// raft-boltdb writes; Pontoon reads.
	must(t, h.DeleteRange(1, 2))
	must(t, h.StoreLog(&hraft.Log{Index: 301, Term: 10, Data: []byte("from raft-boltdb")}))
	must(t, h.Close())

	p, err = logstore.NewBoltStore(path)
	must(t, err)
	defer p.Close()
	want := append(sampleLogs()[2:], &raft.Log{Index: 301, Term: 10, Data: []byte("from raft-boltdb")})
	checkPontoon(t, p, want)
}

// TestIdenticalBytes: both stores write the same entries and keys; the
// bucket contents are byte for byte equal.
func TestIdenticalBytes(t *testing.T) {
	dir := t.TempDir()
	hp, pp := filepath.Join(dir, "h.db"), filepath.Join(dir, "p.db")
	h, err := raftboltdb.NewBoltStore(hp)
	must(t, err)
	p, err := logstore.NewBoltStore(pp)
	must(t, err)
	for _, l := range sampleLogs() {
		must(t, h.StoreLog(toHashicorp(l)))
		must(t, p.StoreLog(l))
	}
	for k, v := range stableUints {
		must(t, h.SetUint64([]byte(k), v))
		must(t, p.SetUint64([]byte(k), v))
	}
	for k, v := range stableKeys {
		must(t, h.Set([]byte(k), v))
		must(t, p.Set([]byte(k), v))
	}
	must(t, h.Close())
	must(t, p.Close())
	hd, pd := dumpBuckets(t, hp), dumpBuckets(t, pp)
	if len(hd) != len(pd) || len(hd) != len(sampleLogs())+len(stableKeys)+len(stableUints) {
		t.Fatalf("%d records from raft-boltdb, %d from Pontoon", len(hd), len(pd))
	}
	for k, v := range hd {
		if !bytes.Equal(pd[k], v) {
			t.Fatalf("record %q:\nraft-boltdb % x\n    pontoon % x", k, v, pd[k])
		}
	}
}

// dumpBuckets returns every record of both buckets, keyed by bucket/key.
func dumpBuckets(t *testing.T, path string) map[string][]byte {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	must(t, err)
	defer db.Close()
	out := map[string][]byte{}
	must(t, db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = append([]byte(nil), v...)
				return nil
			})
		})
	}))
	return out
}

func checkPontoon(t *testing.T, p *logstore.BoltStore, want []*raft.Log) {
	t.Helper()
	first, err := p.FirstIndex()
	must(t, err)
	last, err := p.LastIndex()
	must(t, err)
	if first != want[0].Index || last != want[len(want)-1].Index {
		t.Fatalf("Pontoon bounds [%d, %d], want [%d, %d]", first, last, want[0].Index, want[len(want)-1].Index)
	}
	for _, w := range want {
		var got raft.Log
		must(t, p.GetLog(w.Index, &got))
		must(t, logDiff(w, &got))
	}
	var l raft.Log
	if err := p.GetLog(want[len(want)-1].Index-1, &l); err != nil && err != raft.ErrLogNotFound { //nolint:errorlint
		t.Fatal(err)
	}
	for k, v := range stableKeys {
		got, err := p.Get([]byte(k))
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Pontoon Get(%s) = %q, %v", k, got, err)
		}
	}
	if _, err := p.Get([]byte("missing")); !errors.Is(err, raft.ErrKeyNotFound) {
		t.Fatalf("Get(missing) = %v", err)
	}
}

func checkHashicorp(t *testing.T, h *raftboltdb.BoltStore, want []*raft.Log) {
	t.Helper()
	first, err := h.FirstIndex()
	must(t, err)
	last, err := h.LastIndex()
	must(t, err)
	if first != want[0].Index || last != want[len(want)-1].Index {
		t.Fatalf("raft-boltdb bounds [%d, %d], want [%d, %d]", first, last, want[0].Index, want[len(want)-1].Index)
	}
	for _, w := range want {
		var got hraft.Log
		must(t, h.GetLog(w.Index, &got))
		must(t, logDiff(w, fromHashicorp(&got)))
	}
	var l hraft.Log
	if err := h.GetLog(10_000, &l); err != hraft.ErrLogNotFound { //nolint:errorlint
		t.Fatalf("raft-boltdb GetLog(missing) = %v", err)
	}
}
