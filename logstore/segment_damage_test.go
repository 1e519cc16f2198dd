package logstore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/logstore/storetest"
)

// These tests damage the files of a closed SegmentStore the way disks and
// operators damage them, and check its rule: the open either refuses with
// an error wrapping raft.ErrCorrupt that names the file, or holds every
// acknowledged write. It never panics.

const (
	// segDamageSize is the segment size of the damaged stores: 4 KiB,
	// about nine of their records.
	segDamageSize = logstore.MinJournalSize
	// segDamageEntries entries are stored, one StoreLogs each; after
	// segDamageCompactAt of them, 1..segDamageDeleted are deleted (and
	// the oldest segment with them).
	segDamageEntries   = 90
	segDamageCompactAt = 80
	segDamageDeleted   = 15
	segDamageTerm      = 3
	segStateFile       = "segments.state"
	segStableFile      = "stable.db"
)

// segDamageLogSize is the data size of entry i: 100 to 499 bytes.
func segDamageLogSize(i uint64) int { return 100 + int(i*37%400) }

// writeSegmentDamageStore writes the closed store the damage tests
// damage, in a new directory, and returns the directory.
func writeSegmentDamageStore(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "seg")
	s := openSegmentDir(t, dir, segDamageSize)
	defer func() { mustNoErr(t, s.Close()) }()
	mustNoErr(t, s.SetUint64([]byte("CurrentTerm"), segDamageTerm))
	for i := uint64(1); i <= segDamageEntries; i++ {
		mustNoErr(t, s.StoreLogs([]*raft.Log{storetest.MakeLog(i, segDamageLogSize(i))}))
		if i == segDamageCompactAt {
			mustNoErr(t, s.DeleteRange(1, segDamageDeleted))
		}
	}
	return dir
}

// damagedSegments writes a store to damage and checks what the tests
// expect of it: it reopens whole, has at least five segments, and the
// oldest is not segment 1 (compaction removed it).
func damagedSegments(t *testing.T) (dir string, segs []string) {
	t.Helper()
	dir = writeSegmentDamageStore(t)
	segs = segmentFiles(t, dir)
	if len(segs) < 5 || segmentSeq(t, segs[0]) == 1 {
		t.Fatalf("want at least 5 segments, the oldest not segment 1: %v", segs)
	}
	requireSegmentWhole(t, dir)
	return dir, segs
}

// copySegmentStore copies the files of the store in dir into a new
// directory and returns it.
func copySegmentStore(t testing.TB, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "seg")
	mustNoErr(t, os.Mkdir(dst, 0o700))
	ents, err := os.ReadDir(dir)
	mustNoErr(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		mustNoErr(t, err)
		mustNoErr(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
	}
	return dst
}

// segRebase returns the path of the file of dir named as path's.
func segRebase(dir, path string) string { return filepath.Join(dir, filepath.Base(path)) }

// requireSegmentWhole checks that the store in dir opens with every entry
// and CurrentTerm writeSegmentDamageStore acknowledged.
func requireSegmentWhole(t *testing.T, dir string) {
	t.Helper()
	s := openSegmentDir(t, dir, segDamageSize)
	defer func() { mustNoErr(t, s.Close()) }()
	requireLogs(t, s, segDamageDeleted+1, segDamageEntries)
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != segDamageTerm {
		t.Fatalf("CurrentTerm = %d, %v", v, err)
	}
}

// openDamagedSegments opens the store in dir. If it opens, it returns a
// description of what it holds; else the error, which it checks is the
// same on a second open (the refused open changed nothing that matters).
func openDamagedSegments(t *testing.T, dir string) (string, error) {
	t.Helper()
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: dir, SegmentSize: segDamageSize})
	if err == nil {
		defer func() { mustNoErr(t, s.Close()) }()
		first, last := segLogBounds(t, s)
		var missing []uint64
		for i := first; i <= last && last != 0; i++ {
			var l raft.Log
			if err := s.GetLog(i, &l); err != nil {
				missing = append(missing, i)
			}
		}
		term, terr := s.GetUint64([]byte("CurrentTerm"))
		return fmt.Sprintf("open succeeded: log [%d, %d], entries missing %v, CurrentTerm %d (%v)", first, last, missing, term, terr), nil
	}
	_, err2 := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: dir, SegmentSize: segDamageSize})
	if err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second open: %v; the first: %v", err2, err)
	}
	return "", err
}

// requireSegmentRefused checks that the store in dir refuses to open with
// an error wrapping raft.ErrCorrupt that names file (its base name at
// least).
func requireSegmentRefused(t *testing.T, dir, file string) {
	t.Helper()
	opened, err := openDamagedSegments(t, dir)
	if err == nil {
		t.Fatalf("%s; want it refused, naming %s", opened, file)
	}
	segCheckRefusal(t, err, file)
}

// segCheckRefusal checks that err wraps raft.ErrCorrupt and names file.
func segCheckRefusal(t *testing.T, err error, file string) {
	t.Helper()
	if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), file) {
		t.Fatalf("open error %q: want raft.ErrCorrupt naming %s", err, file)
	}
	t.Logf("refused: %v", err)
}

// segFlipByte inverts the byte at off of the file at path.
func segFlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	mustNoErr(t, err)
	b[off] ^= 0xFF
	mustNoErr(t, os.WriteFile(path, b, 0o600))
}

// segZeroBytes writes zeros over [from, to) of the file at path.
func segZeroBytes(t testing.TB, path string, from, to int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	mustNoErr(t, err)
	clear(b[from:to])
	mustNoErr(t, os.WriteFile(path, b, 0o600))
}

// segRecordOffsets returns the offsets of the records of the segment at
// path, the last being where they end (where the end mark is).
func segRecordOffsets(t testing.TB, path string) []int64 {
	t.Helper()
	offs, err := logstore.SegmentRecordOffsets(path)
	mustNoErr(t, err)
	if len(offs) < 3 {
		t.Fatalf("segment %s holds %d records, want at least 2", path, len(offs)-1)
	}
	return offs
}

// TestSegmentDamageMissingFiles: a segment file or the state file removed.
func TestSegmentDamageMissingFiles(t *testing.T) {
	base, segs := damagedSegments(t)
	for _, tc := range []struct {
		name   string
		remove string // the file removed
		named  string // the file the refusal names
	}{
		// A gap in the sequence.
		{"middle-segment", segs[len(segs)/2], segs[len(segs)/2]},
		{"second-segment", segs[1], segs[1]},
		// The oldest, which the state file names.
		{"oldest-segment", segs[0], segs[0]},
		// Segments holding records without the state file: not a
		// create that did not finish.
		{"state-file", segStateFile, segStateFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySegmentStore(t, base)
			mustNoErr(t, os.Remove(segRebase(dir, tc.remove)))
			requireSegmentRefused(t, dir, segRebase(dir, tc.named))
		})
	}
	t.Run("all-segments", func(t *testing.T) {
		dir := copySegmentStore(t, base)
		for _, p := range segs {
			mustNoErr(t, os.Remove(segRebase(dir, p)))
		}
		requireSegmentRefused(t, dir, segRebase(dir, segs[0]))
	})
	t.Run("newest-segment", func(t *testing.T) {
		// The newest segment holds entries 81..90 (acknowledged) and
		// the state file names it.
		dir := copySegmentStore(t, base)
		newest := segRebase(dir, segs[len(segs)-1])
		mustNoErr(t, os.Remove(newest))
		opened, err := openDamagedSegments(t, dir)
		if err == nil {
			t.Fatalf("the newest segment %s removed (it held acknowledged entries), yet the store opened: %s; "+
				"want raft.ErrCorrupt naming it (segments.state names the newest segment)",
				filepath.Base(newest), opened)
		}
		segCheckRefusal(t, err, newest)
	})
	t.Run("stable-file", func(t *testing.T) {
		// stable.db holds CurrentTerm and the vote: a new empty one in
		// its place makes the node forget them while the log holds
		// entries of later terms.
		dir := copySegmentStore(t, base)
		stable := segRebase(dir, segStableFile)
		mustNoErr(t, os.Remove(stable))
		opened, err := openDamagedSegments(t, dir)
		if err == nil {
			t.Fatalf("%s removed while the segments hold entries, yet the store opened: %s; "+
				"want raft.ErrCorrupt naming it", segStableFile, opened)
		}
		segCheckRefusal(t, err, segStableFile)
	})
}

// TestSegmentDamageStateFile: the state file's bytes flipped, cut or
// emptied.
func TestSegmentDamageStateFile(t *testing.T) {
	base, _ := damagedSegments(t)
	// magic, version, store id, lowest segment, CRC.
	for _, off := range []int64{0, 7, 9, 12, 19, 20, 27, 28, 31} {
		t.Run(fmt.Sprint("flip-", off), func(t *testing.T) {
			dir := copySegmentStore(t, base)
			state := filepath.Join(dir, segStateFile)
			segFlipByte(t, state, off)
			requireSegmentRefused(t, dir, state)
		})
	}
	for _, size := range []int64{0, 16, 31} {
		t.Run(fmt.Sprint("truncate-", size), func(t *testing.T) {
			dir := copySegmentStore(t, base)
			state := filepath.Join(dir, segStateFile)
			mustNoErr(t, os.Truncate(state, size))
			requireSegmentRefused(t, dir, state)
		})
	}
	t.Run("extend", func(t *testing.T) {
		dir := copySegmentStore(t, base)
		state := filepath.Join(dir, segStateFile)
		f, err := os.OpenFile(state, os.O_WRONLY|os.O_APPEND, 0)
		mustNoErr(t, err)
		_, err = f.Write(make([]byte, 8))
		mustNoErr(t, err)
		mustNoErr(t, f.Close())
		requireSegmentRefused(t, dir, state)
	})
}

// TestSegmentDamageSegmentFile: a segment's header damaged, the file cut
// or extended, replaced by another store's or another segment's, and a
// file with a segment's suffix but not a segment's name.
func TestSegmentDamageSegmentFile(t *testing.T) {
	base, segs := damagedSegments(t)
	mid := len(segs) / 2
	// Another store with the same entries, so the same segment names.
	other := writeSegmentDamageStore(t)
	if got := segmentFiles(t, other); len(got) != len(segs) {
		t.Fatalf("the other store has %d segments, this one %d", len(got), len(segs))
	}
	for _, which := range []int{mid, len(segs) - 1} {
		name := map[bool]string{true: "newest", false: "middle"}[which == len(segs)-1]
		// magic, version, flags, store id, sequence number, reserved,
		// size, CRC.
		for _, off := range []int64{0, 8, 12, 16, 24, 32, 40, 48, 51} {
			t.Run(fmt.Sprint(name, "-header-flip-", off), func(t *testing.T) {
				dir := copySegmentStore(t, base)
				seg := segRebase(dir, segs[which])
				segFlipByte(t, seg, off)
				requireSegmentRefused(t, dir, seg)
			})
		}
		t.Run(name+"-foreign", func(t *testing.T) {
			dir := copySegmentStore(t, base)
			seg := segRebase(dir, segs[which])
			b, err := os.ReadFile(segRebase(other, segs[which]))
			mustNoErr(t, err)
			mustNoErr(t, os.WriteFile(seg, b, 0o600))
			requireSegmentRefused(t, dir, seg)
		})
		for _, size := range []int64{0, 40, 511, 2048, segDamageSize - 8} {
			t.Run(fmt.Sprint(name, "-truncate-", size), func(t *testing.T) {
				dir := copySegmentStore(t, base)
				seg := segRebase(dir, segs[which])
				mustNoErr(t, os.Truncate(seg, size))
				requireSegmentRefused(t, dir, seg)
			})
		}
		t.Run(name+"-extend", func(t *testing.T) {
			dir := copySegmentStore(t, base)
			seg := segRebase(dir, segs[which])
			mustNoErr(t, os.Truncate(seg, segDamageSize+512))
			requireSegmentRefused(t, dir, seg)
		})
		t.Run(name+"-zeroed", func(t *testing.T) {
			dir := copySegmentStore(t, base)
			seg := segRebase(dir, segs[which])
			segZeroBytes(t, seg, 0, segDamageSize)
			requireSegmentRefused(t, dir, seg)
		})
	}
	t.Run("swapped", func(t *testing.T) {
		// Two segments' files exchanged: each header names the other.
		dir := copySegmentStore(t, base)
		a, b := segRebase(dir, segs[mid]), segRebase(dir, segs[mid+1])
		mustNoErr(t, os.Rename(a, a+".x"))
		mustNoErr(t, os.Rename(b, a))
		mustNoErr(t, os.Rename(a+".x", b))
		requireSegmentRefused(t, dir, a)
	})
	t.Run("duplicated", func(t *testing.T) {
		// A segment's file copied over the next one's.
		dir := copySegmentStore(t, base)
		a, b := segRebase(dir, segs[mid]), segRebase(dir, segs[mid+1])
		data, err := os.ReadFile(a)
		mustNoErr(t, err)
		mustNoErr(t, os.WriteFile(b, data, 0o600))
		requireSegmentRefused(t, dir, b)
	})
	for _, stray := range []string{"1.seg", "junk.seg", "00000000000000000000.seg"} {
		t.Run("stray-"+stray, func(t *testing.T) {
			dir := copySegmentStore(t, base)
			mustNoErr(t, os.WriteFile(filepath.Join(dir, stray), nil, 0o600))
			requireSegmentRefused(t, dir, stray)
		})
	}
}

// TestSegmentDamageRecords: records damaged in a sealed segment (a valid
// record or end mark follows the damage) and at the end of the newest
// one (records missing where the last write's end mark should be). Bytes
// outside the records changed are not damage.
func TestSegmentDamageRecords(t *testing.T) {
	base, segs := damagedSegments(t)
	sealed, newest := segs[len(segs)/2], segs[len(segs)-1]
	for _, tc := range []struct {
		name   string
		seg    string
		damage func(t *testing.T, path string, offs []int64)
	}{
		{"sealed-first-record-payload", sealed, func(t *testing.T, p string, offs []int64) {
			segFlipByte(t, p, offs[0]+16+20)
		}},
		{"sealed-first-record-payload-crc", sealed, func(t *testing.T, p string, offs []int64) {
			segFlipByte(t, p, offs[0]+8)
		}},
		{"sealed-first-record-header", sealed, func(t *testing.T, p string, offs []int64) {
			segFlipByte(t, p, offs[0])
		}},
		{"sealed-middle-record-zeroed", sealed, func(t *testing.T, p string, offs []int64) {
			segZeroBytes(t, p, offs[1], offs[2])
		}},
		{"sealed-last-record-payload", sealed, func(t *testing.T, p string, offs []int64) {
			// Written whole (its end mark follows) but does not
			// validate.
			n := len(offs) - 1
			segFlipByte(t, p, offs[n]-8)
		}},
		{"sealed-last-record-and-end-mark-zeroed", sealed, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segZeroBytes(t, p, offs[n-1], offs[n]+8)
		}},
		{"sealed-end-mark-zeroed", sealed, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segZeroBytes(t, p, offs[n], offs[n]+8)
		}},
		{"sealed-all-records-zeroed", sealed, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segZeroBytes(t, p, offs[0], offs[n]+8)
		}},
		{"newest-first-record-payload", newest, func(t *testing.T, p string, offs []int64) {
			segFlipByte(t, p, offs[0]+16+20)
		}},
		{"newest-last-record-payload", newest, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segFlipByte(t, p, offs[n]-8)
		}},
		// The tail of the newest segment: neither the end mark of the
		// last write nor a torn write there, so records are missing.
		{"newest-last-record-and-end-mark-zeroed", newest, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segZeroBytes(t, p, offs[n-1], offs[n]+8)
		}},
		{"newest-last-two-records-and-end-mark-zeroed", newest, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segZeroBytes(t, p, offs[n-2], offs[n]+8)
		}},
		{"newest-end-mark-zeroed", newest, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segZeroBytes(t, p, offs[n], offs[n]+8)
		}},
		{"newest-all-records-zeroed", newest, func(t *testing.T, p string, offs []int64) {
			n := len(offs) - 1
			segZeroBytes(t, p, offs[0], offs[n]+8)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copySegmentStore(t, base)
			seg := segRebase(dir, tc.seg)
			tc.damage(t, seg, segRecordOffsets(t, seg))
			requireSegmentRefused(t, dir, seg)
		})
	}
	// Not damage: bytes no record or header covers.
	for _, tc := range []struct {
		name string
		seg  string
		off  func(offs []int64) int64
	}{
		{"header-padding", sealed, func([]int64) int64 { return 300 }},
		{"sealed-past-end-mark", sealed, func(offs []int64) int64 { return offs[len(offs)-1] + 8 + 100 }},
		{"newest-past-end-mark", newest, func(offs []int64) int64 { return offs[len(offs)-1] + 8 + 1 }},
		{"newest-last-byte", newest, func([]int64) int64 { return segDamageSize - 1 }},
	} {
		t.Run("not-damage-"+tc.name, func(t *testing.T) {
			dir := copySegmentStore(t, base)
			seg := segRebase(dir, tc.seg)
			segFlipByte(t, seg, tc.off(segRecordOffsets(t, seg)))
			requireSegmentWhole(t, dir)
		})
	}
	t.Run("sealed-tail-sector-zeroed", func(t *testing.T) {
		// One sector lost (read back as zeros) at the end of a sealed
		// segment: the end of its last record and the end mark after
		// it, the record's header (in an earlier sector) intact. It
		// looks like a write a crash interrupted; but in a segment
		// that later writes follow, the record was acknowledged, and
		// its entry is now a hole in the middle of the log.
		dir := copySegmentStore(t, base)
		var seg string
		var sector int64
		for _, p := range segs[:len(segs)-1] {
			offs := segRecordOffsets(t, segRebase(dir, p))
			n := len(offs) - 1
			if s := offs[n] / 512 * 512; offs[n-1] < s {
				seg, sector = segRebase(dir, p), s
				break
			}
		}
		if seg == "" {
			t.Fatal("no sealed segment's last record crosses a sector boundary")
		}
		segZeroBytes(t, seg, sector, sector+512)
		opened, err := openDamagedSegments(t, dir)
		if err == nil {
			t.Fatalf("sector at %d of sealed segment %s zeroed, yet the store opened: %s; want raft.ErrCorrupt naming it "+
				"(only the newest segment can end in a torn write)",
				sector, filepath.Base(seg), opened)
		}
		segCheckRefusal(t, err, seg)
	})
}

// segFuzzEntries entries are in the store FuzzSegmentOpen damages, one
// StoreLogs each, in 4 KiB segments.
const segFuzzEntries = 30

// FuzzSegmentOpen writes bytes over (or cuts) the newest segment, the one
// before it or the state file of a small store, and requires the open to
// refuse with raft.ErrCorrupt naming the file, or to hold every entry
// (but the last record of the damaged segment: what a crash that tore
// its write leaves). It must never panic.
func FuzzSegmentOpen(f *testing.F) {
	base := filepath.Join(f.TempDir(), "seg")
	s := openSegmentDir(f, base, segDamageSize)
	mustNoErr(f, s.SetUint64([]byte("CurrentTerm"), segDamageTerm))
	// lastOf[seg] is the last entry stored in segment file seg.
	lastOf := map[string]uint64{}
	for i := uint64(1); i <= segFuzzEntries; i++ {
		mustNoErr(f, s.StoreLogs([]*raft.Log{storetest.MakeLog(i, segDamageLogSize(i))}))
		segs := segmentFilesInUse(f, base)
		lastOf[filepath.Base(segs[len(segs)-1])] = i
	}
	mustNoErr(f, s.Close())
	segs := segmentFiles(f, base)
	if len(segs) < 3 {
		f.Fatalf("%d segments", len(segs))
	}
	targets := []string{segs[len(segs)-1], segs[len(segs)-2], filepath.Join(base, segStateFile)}
	offs, err := logstore.SegmentRecordOffsets(segs[len(segs)-1])
	mustNoErr(f, err)
	end := offs[len(offs)-1]

	f.Add(uint8(0), uint16(0), []byte{}, uint16(0))                            // undamaged
	f.Add(uint8(0), uint16(17), []byte{0x5a}, uint16(0))                       // store id
	f.Add(uint8(0), uint16(600), []byte{1, 2, 3}, uint16(0))                   // first record
	f.Add(uint8(0), uint16(end-8), make([]byte, 16), uint16(0))                // like a torn last write
	f.Add(uint8(0), uint16(end+16), []byte{0xff, 0xff, 0xff, 0xff}, uint16(0)) // past the end
	f.Add(uint8(0), uint16(0), []byte{}, uint16(end))                          // cut at the end mark
	f.Add(uint8(1), uint16(520), []byte{0, 0, 0, 0, 0, 0, 0, 0}, uint16(0))    // first record's payload
	f.Add(uint8(1), uint16(0), []byte{}, uint16(100))                          // cut in the header
	f.Add(uint8(2), uint16(20), []byte{2}, uint16(0))                          // the oldest segment's number
	f.Add(uint8(2), uint16(0), []byte{}, uint16(31))                           // the state cut

	f.Fuzz(func(t *testing.T, which uint8, off uint16, patch []byte, cut uint16) {
		dir := copySegmentStore(t, base)
		target := segRebase(dir, targets[int(which)%len(targets)])
		b, err := os.ReadFile(target)
		mustNoErr(t, err)
		if len(patch) > 0 {
			at := int(off) % len(b)
			copy(b[at:], patch)
		}
		if cut != 0 {
			b = b[:int(cut)%(len(b)+1)]
		}
		mustNoErr(t, os.WriteFile(target, b, 0o600))

		st, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: dir, SegmentSize: segDamageSize})
		if err != nil {
			if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), target) {
				t.Fatalf("open error %q: want raft.ErrCorrupt naming %s", err, target)
			}
			return
		}
		defer func() { mustNoErr(t, st.Close()) }()
		// Opened: every entry is there but, at most, the last one if
		// the damaged segment is the newest (one entry per record): a
		// torn write, as a crash leaves it. Only the newest segment can
		// end so.
		torn := lastOf[filepath.Base(target)]
		first, last := segLogBounds(t, st)
		if first != 1 || (last != segFuzzEntries && !(torn == segFuzzEntries && last == torn-1)) {
			t.Fatalf("opened with log [%d, %d], want [1, %d] (the last entry of the damaged segment is %d)", first, last, segFuzzEntries, torn)
		}
		for i := uint64(1); i <= segFuzzEntries; i++ {
			var got raft.Log
			err := st.GetLog(i, &got)
			//nolint:errorlint // the identity is the contract.
			if i == torn && torn == segFuzzEntries && err == raft.ErrLogNotFound {
				continue
			}
			if err != nil {
				t.Fatalf("opened, but GetLog(%d): %v", i, err)
			}
			if err := storetest.LogDiff(storetest.MakeLog(i, segDamageLogSize(i)), &got); err != nil {
				t.Fatalf("opened, but %v", err)
			}
		}
		if v, err := st.GetUint64([]byte("CurrentTerm")); err != nil || v != segDamageTerm {
			t.Fatalf("CurrentTerm = %d, %v", v, err)
		}
	})
}
