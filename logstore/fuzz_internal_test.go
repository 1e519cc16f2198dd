package logstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"go.etcd.io/bbolt"
)

// The storage readers on valid files with random damage. FuzzJournalScan
// (journal_internal_test.go) and FuzzDecodeLog (logcodec_test.go) feed
// them arbitrary bytes; these targets start from a valid file and damage
// it, and check the rule: no panic, and no read that succeeds with fewer
// entries than were durable.

// damage is one damage operation decoded from fuzz input: op 0 flips
// bits of one byte, 1 overwrites n bytes with val, 2 cuts the file at off.
type damage struct {
	op  byte
	off int
	n   int
	val byte
}

// apply returns a damaged copy of b and the range [lo, hi) it changed
// (hi = len(b) for a cut).
func (d damage) apply(b []byte) (out []byte, lo, hi int) {
	out = append([]byte(nil), b...)
	off := d.off % len(b)
	switch d.op % 3 {
	case 0:
		out[off] ^= d.val | 1
		return out, off, off + 1
	case 1:
		end := min(off+d.n, len(b))
		for i := off; i < end; i++ {
			out[i] = d.val
		}
		return out, off, end
	default:
		return out[:off], off, len(b)
	}
}

// FuzzJournalDamage damages a valid journal file (records written as the
// store writes them, each followed by its end mark) once and scans it.
// The scan must not panic, and unless it reports damage it must find
// every record, except where the damage reached the end mark of the last
// write (what a torn last write can look like): then every record wholly
// before the damage must be there.
func FuzzJournalDamage(f *testing.F) {
	const size = 8192
	b, offs := buildJournal(f, size, 9, 100, 1, 3, 2, 5, 1, 4)
	end := offs[len(offs)-1]
	for _, at := range append(offs, end+4, 20, 600, 7000) {
		f.Add(byte(0), uint32(at), uint16(1), byte(0x10))
		f.Add(byte(1), uint32(at), uint16(100), byte(0))
		f.Add(byte(2), uint32(at), uint16(0), byte(0))
	}
	f.Add(byte(1), uint32(offs[3]+9), uint16(4000), byte(0))
	f.Fuzz(func(t *testing.T, op byte, off uint32, n uint16, val byte) {
		d := damage{op: op, off: int(off), n: int(n), val: val}
		bad, lo, hi := d.apply(b)
		sc, err := scanJournal(bad)
		if err != nil {
			if !errors.Is(err, raft.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !sc.valid || sc.endKind == endNone || int64(len(bad)) != size {
			return // refused at open (no header, records missing, file cut)
		}
		want := len(offs) - 1
		if int64(hi) > end && int64(lo) < end+journalMarkLen {
			// The damage reached the last end mark: records before it
			// must be there.
			want = 0
			for want < len(offs)-1 && offs[want+1] <= int64(lo) {
				want++
			}
		}
		if len(sc.recs) < want {
			t.Fatalf("damage %+v (bytes %d-%d): scan succeeded with %d of %d records (end %d at %d)",
				d, lo, hi, len(sc.recs), want, sc.endKind, sc.end)
		}
	})
}

// boltFixture is a closed store file holding entries 1..boltFixtureN,
// built once.
var boltFixture struct {
	once sync.Once
	b    []byte
	err  error
}

const boltFixtureN = 200

func boltFixtureBytes(dir string) ([]byte, error) {
	boltFixture.once.Do(func() {
		path := filepath.Join(dir, "fixture.db")
		s, err := New(Options{Path: path, NoJournal: true, NoSync: true,
			BoltOptions: &bbolt.Options{PageSize: 4096, NoSync: true}, Logger: hclog.NewNullLogger()})
		if err != nil {
			boltFixture.err = err
			return
		}
		var batch []*raft.Log
		for i := uint64(1); i <= boltFixtureN; i++ {
			batch = append(batch, &raft.Log{Index: i, Term: 1 + i/50, Data: []byte(strings.Repeat("x", int(i%90)))})
		}
		if err := s.StoreLogs(batch); err != nil {
			boltFixture.err = err
			return
		}
		if err := s.SetUint64([]byte("CurrentTerm"), 5); err != nil {
			boltFixture.err = err
			return
		}
		if err := s.Close(); err != nil {
			boltFixture.err = err
			return
		}
		boltFixture.b, boltFixture.err = os.ReadFile(path)
	})
	return boltFixture.b, boltFixture.err
}

// FuzzBoltDamage damages a valid store file once and opens it with
// VerifyOnOpen, then reads every entry and the term. Nothing may panic;
// errors wrap raft.ErrCorrupt or name the file; an entry read back is the
// one asked for; and damage confined to the meta pages (where bbolt would
// silently open an older transaction) never opens with anything missing.
// (bbolt has no checksums on its other pages: damage there can change
// what a page holds undetected; see doc.go.)
func FuzzBoltDamage(f *testing.F) {
	for _, at := range []uint32{0, 16, 70, 4096, 4096 + 60, 8192, 12288, 20000} {
		f.Add(byte(0), at, uint16(1), byte(0x08))
		f.Add(byte(1), at, uint16(64), byte(0))
		f.Add(byte(2), at, uint16(0), byte(0))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, op byte, off uint32, n uint16, val byte) {
		orig, err := boltFixtureBytes(dir)
		if err != nil {
			t.Fatal(err)
		}
		d := damage{op: op, off: int(off), n: int(n), val: val}
		bad, lo, hi := d.apply(orig)
		path := filepath.Join(t.TempDir(), "raft.db")
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{Path: path, NoJournal: true, NoSync: true, VerifyOnOpen: true, Logger: hclog.NewNullLogger()})
		if err != nil {
			if !errors.Is(err, raft.ErrCorrupt) && !strings.Contains(err.Error(), path) {
				t.Fatalf("open error %q neither wraps ErrCorrupt nor names the file", err)
			}
			return
		}
		defer s.Close()
		metaOnly := d.op%3 != 2 && hi <= 2*4096
		found := 0
		for i := uint64(1); i <= boltFixtureN; i++ {
			var l raft.Log
			switch err := s.GetLog(i, &l); {
			case err == nil:
				if l.Index != i {
					t.Fatalf("GetLog(%d) returned entry %d", i, l.Index)
				}
				found++
			case errors.Is(err, raft.ErrLogNotFound), errors.Is(err, raft.ErrCorrupt):
			default:
				t.Fatalf("GetLog(%d): %v", i, err)
			}
		}
		term, terr := s.GetUint64([]byte("CurrentTerm"))
		if metaOnly && (found != boltFixtureN || terr != nil || term != 5) {
			t.Fatalf("damage %+v (bytes %d-%d) to the meta pages: open succeeded with %d of %d entries, term %d (%v)",
				d, lo, hi, found, boltFixtureN, term, terr)
		}
	})
}

// journalFixture is a crash copy of a store whose newest entries are in
// its journal (small files: both hold records), built once.
var journalFixture struct {
	once  sync.Once
	files [3][]byte // raft.db, journal.0, journal.1
	last  uint64
	err   error
}

func journalFixtureFiles(dir string) error {
	journalFixture.once.Do(func() {
		path := filepath.Join(dir, "raft.db")
		s, err := New(Options{Path: path, JournalSize: 16 << 10, NoSync: true, Logger: hclog.NewNullLogger()})
		if err != nil {
			journalFixture.err = err
			return
		}
		defer s.Close()
		next := uint64(1)
		for b := 0; b < 60; b++ {
			var batch []*raft.Log
			for k := 0; k < 1+b%5; k++ {
				batch = append(batch, &raft.Log{Index: next, Term: 1, Data: []byte(strings.Repeat("d", 40+b*3))})
				next++
			}
			if err := s.StoreLogs(batch); err != nil {
				journalFixture.err = err
				return
			}
		}
		journalFixture.last = next - 1
		s.wmu.Lock()
		err = s.waitCheckpointLocked()
		s.wmu.Unlock()
		if err != nil {
			journalFixture.err = err
			return
		}
		jp := journalPaths(path)
		for i, p := range []string{path, jp[0], jp[1]} {
			if journalFixture.files[i], err = os.ReadFile(p); err != nil {
				journalFixture.err = err
				return
			}
		}
	})
	return journalFixture.err
}

// FuzzJournalOpen damages one journal file of a crashed store once and
// opens the store: no panic, errors wrap raft.ErrCorrupt, and an open that
// succeeds holds every entry, except where the damage reached the end mark
// of the last write in the active file (what a torn last write can look
// like): then it holds every entry of the records wholly before the damage.
func FuzzJournalOpen(f *testing.F) {
	for _, at := range []uint32{20, 512, 530, 1000, 3000, 9000, 15000} {
		for _, file := range []byte{0, 1} {
			f.Add(file, byte(0), at, uint16(1), byte(0x20))
			f.Add(file, byte(1), at, uint16(300), byte(0))
			f.Add(file, byte(2), at, uint16(0), byte(0))
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file, op byte, off uint32, n uint16, val byte) {
		if err := journalFixtureFiles(dir); err != nil {
			t.Fatal(err)
		}
		fx := &journalFixture
		which := 1 + int(file%2)
		d := damage{op: op, off: int(off), n: int(n), val: val}
		bad, lo, hi := d.apply(fx.files[which])
		path := filepath.Join(t.TempDir(), "raft.db")
		jp := journalPaths(path)
		names := []string{path, jp[0], jp[1]}
		for i, b := range fx.files {
			if i == which {
				b = bad
			}
			if err := os.WriteFile(names[i], b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// What must survive: everything, unless the damage reached the
		// last end mark of the file that holds the newest records.
		want := fx.last
		sc, err := scanJournal(fx.files[which])
		if err != nil {
			t.Fatal(err)
		}
		other, err := scanJournal(fx.files[3-which])
		if err != nil {
			t.Fatal(err)
		}
		if sc.hdr.gen > other.hdr.gen && len(sc.recs) > 0 && int64(hi) > sc.end && int64(lo) < sc.end+journalMarkLen {
			want = sc.recs[0].first - 1
			for k, r := range sc.recs {
				end := sc.end
				if k+1 < len(sc.recs) {
					end = sc.recs[k+1].off
				}
				if end > int64(lo) {
					break
				}
				want = r.last()
			}
		}
		s, err := New(Options{Path: path, JournalSize: 16 << 10, NoSync: true, Logger: hclog.NewNullLogger()})
		if err != nil {
			if !errors.Is(err, raft.ErrCorrupt) {
				t.Fatalf("open error %q does not wrap ErrCorrupt", err)
			}
			return
		}
		defer s.Close()
		last, err := s.LastIndex()
		if err != nil {
			t.Fatal(err)
		}
		if last < want {
			t.Fatalf("damage %+v (bytes %d-%d of journal.%d): open succeeded with the log ending at %d; %d were durable",
				d, lo, hi, which-1, last, want)
		}
		for i := uint64(1); i <= want; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil {
				t.Fatalf("damage %+v: entry %d of %d: %v", d, i, want, err)
			}
		}
	})
}
