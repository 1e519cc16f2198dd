package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// The journal of BoltStore: a write-ahead file in front of bbolt, so that
// an appending StoreLogs costs one write and one fdatasync instead of a
// bbolt commit (two fsyncs and page writes). The format is in journal.go.
//
// Files: <Path>.journal.0 and <Path>.journal.1, each preallocated to
// Options.JournalSize by writing zeros (so a later overwrite needs no
// metadata update and fdatasync writes the data only), with a header whose
// generation grows by one at every activation. One file is active: records
// are appended at its tail.
//
// Write path (StoreLogs, wmu held): a batch that appends right after the
// last entry is encoded as one record, written at the tail of the active
// file and fdatasynced, then added to the pending entries (kept encoded in
// memory; GetLog decodes them). Only then does StoreLogs return.
//
// Checkpoints: once an eighth of a file has been appended since the last
// checkpoint started, and none is running, StoreLogs hands every pending
// entry to a new checkpoint. Small, early checkpoints keep the disk's
// flushes short (a journal fdatasync waits for the bbolt pages the disk is
// writing) and the pending entries few.
//
// Rotation: when a record does not fit in the active file, StoreLogs waits
// for the checkpoint in flight to finish (backpressure), hands all pending
// entries (they are all in the active file) to a new checkpoint, activates
// the other file (a header with a new generation, fdatasynced) and writes
// the record there. A checkpoint runs in its own goroutine:
// it writes its entries into bbolt in one transaction (putEncoded, the
// StoreLogs path) and only after the commit drops them from pending, so a
// reader finds each entry in pending or in bbolt.
//
// Invariants (wmu held, between calls):
//   - every entry in a valid record of either file whose index is above
//     bbolt's last index is pending, and the newest record holding an
//     index has its current value; records hold contiguous indexes;
//   - the file not active holds no pending entry once its checkpoint
//     finished (the checkpoint is the only one in flight: ckpt).
//
// So the replay at open (entries above bbolt's last index, in generation
// order) rebuilds exactly the acknowledged log. Two writes would break it
// and are handled: a batch that does not append (an overwrite, a gap) goes
// straight to bbolt after the pending entries (bbolt's last index then
// covers every journal entry); a DeleteRange reaching the end of the log
// resets the journal first (new generations on both files: nothing valid
// left), so deleted entries cannot come back.
//
// Recovery (New): both files are scanned (a torn tail ends a file; damage
// followed by a valid record, or a gap, is refused with raft.ErrCorrupt),
// the entries above bbolt's last index are replayed, written into bbolt,
// and the journal is reset. A read-only store replays into memory only.
//
// Failure: a failed write or fdatasync of a journal file leaves its tail
// unknown, so the store refuses every later StoreLogs and DeleteRange with
// that error (journal.failed); reads keep working, and Close still writes
// the pending (acknowledged) entries into bbolt.

// journal is BoltStore's journal state. Every field is guarded by the
// store's wmu, except syncs.
type journal struct {
	paths [2]string
	files [2]*os.File
	// gens are the generations of the files' headers.
	gens [2]uint64
	// ranges are the index ranges of the valid records of each file
	// ([0] first, [1] last; last 0: none).
	ranges [2][2]uint64
	// active is the file records are appended to; tail is the offset of
	// the next record in it.
	active int
	tail   int64
	size   int64
	noSync bool
	// ckpt is the checkpoint in flight (or finished and not yet waited
	// for); nil if none.
	ckpt *checkpoint
	// unckpt is the size of the records appended since the last
	// checkpoint started; at ckptBytes() the next StoreLogs starts one.
	unckpt int64
	// failed is set when a journal write or sync failed, and at Close.
	failed error

	// syncs counts the fdatasyncs of journal files (for tests).
	syncs atomic.Int64
}

// checkpoint is one batch of pending entries being written into bbolt.
type checkpoint struct {
	lo   uint64
	ents [][]byte
	done chan struct{}
	// err is the result; it is written before done is closed.
	err error
}

// journalPaths returns the two journal files of the store at path.
func journalPaths(path string) [2]string {
	return [2]string{path + ".journal.0", path + ".journal.1"}
}

// openJournal replays the journal files left by a crash, if any, and then
// sets up the journal (unless opts.NoJournal or readOnly). s.db is open and
// checked.
func (s *BoltStore) openJournal(opts Options, mode os.FileMode, readOnly bool) error {
	paths := journalPaths(s.path)
	lo, ents, gens, found, err := s.replayJournal(paths)
	if err != nil {
		return err
	}
	if readOnly {
		s.pmu.lo, s.pmu.ents = lo, ents
		return nil
	}
	if len(ents) > 0 {
		// Nothing is pending yet: this only writes them into bbolt.
		if err := s.commitPending(lo, ents); err != nil {
			return fmt.Errorf("log store %s: writing the replayed journal: %w", s.path, err)
		}
		s.logger.Info("replayed journal", "first", lo, "last", lo+uint64(len(ents))-1)
	}
	if opts.NoJournal {
		if found {
			if err := removeJournal(paths); err != nil {
				return fmt.Errorf("log store %s: %w", s.path, err)
			}
		}
		return nil
	}
	size := opts.JournalSize
	if size == 0 {
		size = DefaultJournalSize
	}
	size = max(size, MinJournalSize)
	j := &journal{paths: paths, size: size, noSync: opts.NoSync, gens: gens}
	for i, p := range paths {
		if j.files[i], err = openJournalFile(p, size, mode); err != nil {
			j.closeFiles()
			return fmt.Errorf("log store %s: %w", s.path, err)
		}
	}
	if err := j.reset(); err != nil {
		j.closeFiles()
		return fmt.Errorf("log store %s: %w", s.path, err)
	}
	s.j = j
	return nil
}

// replayJournal reads the journal files and returns the entries they hold
// above bbolt's last index (contiguous, from lo), each checked to decode,
// the files' generations (0 if no valid header), and whether any file
// exists. A damaged or gapped journal returns an error wrapping
// raft.ErrCorrupt that names the file.
func (s *BoltStore) replayJournal(paths [2]string) (lo uint64, ents [][]byte, gens [2]uint64, found bool, err error) {
	type file struct {
		path string
		sc   journalScan
	}
	last, err := s.boltLast()
	if err != nil {
		return 0, nil, gens, false, err
	}
	var files []file
	headerless := map[string][]byte{}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, nil, gens, true, fmt.Errorf("log store %s: journal: %w", s.path, err)
		}
		found = true
		sc, err := scanJournal(b)
		if err != nil {
			return 0, nil, gens, true, fmt.Errorf("log store %s: journal %s: %w", s.path, p, err)
		}
		if !sc.valid {
			headerless[p] = b
			continue
		}
		gens[i] = sc.gen
		files = append(files, file{p, sc})
	}
	// A file without a valid header holds nothing valid: a crash tore its
	// header while it was being activated, and everything in it was in
	// bbolt by then. A damaged header would hide acknowledged entries,
	// though; the generations are consecutive, so look for records of the
	// neighbouring generations of the other file that bbolt lacks.
	for p, b := range headerless {
		for _, f := range files {
			for g := f.sc.gen - min(f.sc.gen, 2); g <= f.sc.gen+2; g++ {
				if g == f.sc.gen || g == 0 {
					continue
				}
				sc, err := scanRecords(b, g)
				if n := len(sc.recs); err != nil || n > 0 && sc.recs[n-1].last() > last {
					return 0, nil, gens, true, fmt.Errorf("%w: log store %s: journal %s: the header is damaged, and the file holds records of generation %d beyond the log",
						raft.ErrCorrupt, s.path, p, g)
				}
			}
		}
		s.logger.Warn("journal file has no valid header; ignored", "file", p)
	}
	slices.SortStableFunc(files, func(a, b file) int {
		switch {
		case a.sc.gen < b.sc.gen:
			return -1
		case a.sc.gen > b.sc.gen:
			return 1
		}
		return 0
	})
	for _, f := range files {
		for _, r := range f.sc.recs {
			if len(ents) == 0 {
				if r.last() <= last {
					continue // in bbolt already: checkpointed before the crash
				}
				// NB: an empty bbolt may be followed by any index (the log
				// starts after a snapshot).
				if last != 0 && r.first > last+1 {
					return 0, nil, gens, found, fmt.Errorf("%w: log store %s: journal %s: record at offset %d starts at index %d, but the log ends at %d",
						raft.ErrCorrupt, s.path, f.path, r.off, r.first, last)
				}
				lo = max(r.first, last+1)
			} else if end := lo + uint64(len(ents)); r.first > end {
				return 0, nil, gens, found, fmt.Errorf("%w: log store %s: journal %s: record at offset %d starts at index %d, but the journal before it ends at %d",
					raft.ErrCorrupt, s.path, f.path, r.off, r.first, end-1)
			}
			for k, e := range r.ents {
				idx := r.first + uint64(k)
				if idx < lo {
					continue
				}
				var l raft.Log
				if err := decodeLog(e, &l); err != nil || l.Index != idx {
					return 0, nil, gens, found, fmt.Errorf("%w: log store %s: journal %s: record at offset %d: entry %d does not decode (index %d, %v)",
						raft.ErrCorrupt, s.path, f.path, r.off, idx, l.Index, err)
				}
				if p := idx - lo; p < uint64(len(ents)) {
					ents[p] = e // a later record overwrote the entry
				} else {
					ents = append(ents, e)
				}
			}
		}
	}
	return lo, ents, gens, found, nil
}

// openJournalFile opens the journal file at path, creating it (written
// with zeros to size bytes and fsynced, then renamed into place and the
// directory fsynced) unless it exists with that size.
func openJournalFile(path string, size int64, mode os.FileMode) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == size {
		return os.OpenFile(path, os.O_RDWR, 0)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	// NB: zeros written, not fallocated: blocks that were written are
	// overwritten in place later, so fdatasync has no metadata to write.
	zeros := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return f, nil
}

// removeJournal removes the journal files and fsyncs the directory.
func removeJournal(paths [2]string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("journal: %w", err)
		}
		_ = os.Remove(p + ".tmp")
	}
	return syncDir(filepath.Dir(paths[0]))
}

// syncDir fsyncs a directory, so creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// sync fdatasyncs file i, unless noSync.
func (j *journal) sync(i int) error {
	if j.noSync {
		return nil
	}
	j.syncs.Add(1)
	if err := fdatasync(j.files[i]); err != nil {
		return fmt.Errorf("journal %s: sync: %w", j.paths[i], err)
	}
	return nil
}

// syncActive fdatasyncs the active file, even with noSync.
func (j *journal) syncActive() error {
	if j.failed != nil {
		return nil
	}
	if err := fdatasync(j.files[j.active]); err != nil {
		return fmt.Errorf("journal %s: sync: %w", j.paths[j.active], err)
	}
	return nil
}

// activate gives file i a header with a new generation, so nothing in it
// is valid any more, and makes it the active file. A failure is sticky.
func (j *journal) activate(i int) error {
	gen := max(j.gens[0], j.gens[1]) + 1
	if _, err := j.files[i].WriteAt(appendJournalHeader(nil, gen), 0); err != nil {
		j.failed = fmt.Errorf("journal %s: write header: %w", j.paths[i], err)
		return j.failed
	}
	if err := j.sync(i); err != nil {
		j.failed = err
		return err
	}
	j.gens[i] = gen
	j.ranges[i] = [2]uint64{}
	j.active, j.tail = i, journalDataStart
	return nil
}

// reset leaves nothing valid in either file: new generations on both, the
// active one last (so it has the highest). Pending entries must be in bbolt.
func (j *journal) reset() error {
	if err := j.activate(1 - j.active); err != nil {
		return err
	}
	return j.activate(1 - j.active)
}

// hasRecords reports whether either file holds a valid record.
func (j *journal) hasRecords() bool { return j.ranges[0][1] != 0 || j.ranges[1][1] != 0 }

func (j *journal) closeFiles() {
	for i, f := range j.files {
		if f != nil {
			_ = f.Close()
			j.files[i] = nil
		}
	}
}

// journalStoreLogsLocked writes logs as one journal record, if they append
// right after the last entry and fit in a journal file. done is false if
// the batch was not written and must go to bbolt; otherwise err is the
// result. wmu is held; logs holds no nil entry.
func (s *BoltStore) journalStoreLogsLocked(logs []*raft.Log) (done bool, err error) {
	j := s.j
	if j.failed != nil {
		return true, fmt.Errorf("log store %s: store logs: journal failed earlier: %w", s.path, j.failed)
	}
	first, n := logs[0].Index, uint64(len(logs))
	if first == 0 || first+n-1 < first {
		return false, nil
	}
	for i, l := range logs {
		if l.Index != first+uint64(i) {
			return false, nil
		}
	}
	s.pmu.RLock()
	plo, pn := s.pmu.lo, uint64(len(s.pmu.ents))
	s.pmu.RUnlock()
	if pn > 0 {
		if first != plo+pn {
			return false, nil
		}
	} else {
		last, err := s.boltLast()
		if err != nil {
			return true, err
		}
		if last != 0 && first != last+1 {
			return false, nil
		}
	}

	// Encode: the pending entries alias this buffer, so it is new for
	// every batch (one allocation).
	est := journalRecHdrLen + journalPayloadMin
	for _, l := range logs {
		est += 4 + 96 + len(l.Data) + len(l.Extensions)
	}
	buf, start := beginRecord(make([]byte, 0, est), first, len(logs))
	offs := make([]int, len(logs)+1)
	for i, l := range logs {
		var at int
		if buf, at, err = appendRecordEntry(buf, l); err != nil {
			return true, fmt.Errorf("log store %s: store logs: %w", s.path, err)
		}
		offs[i] = at
	}
	offs[len(logs)] = len(buf) + 4 // as if another entry followed
	size := recordLen(len(buf) - start - journalRecHdrLen)
	if size > j.size-journalDataStart {
		return false, nil // larger than a journal file
	}
	if j.tail+size > j.size {
		if err := s.rotateLocked(); err != nil {
			return true, fmt.Errorf("log store %s: store logs: %w", s.path, err)
		}
	}
	if buf, err = finishRecord(buf, start, j.gens[j.active], j.tail); err != nil {
		return true, fmt.Errorf("log store %s: store logs: %w", s.path, err)
	}
	wstart := time.Now()
	if _, err := j.files[j.active].WriteAt(buf, j.tail); err != nil {
		j.failed = fmt.Errorf("journal %s: write: %w", j.paths[j.active], err)
		return true, fmt.Errorf("log store %s: store logs: %w", s.path, j.failed)
	}
	if err := j.sync(j.active); err != nil {
		j.failed = err
		return true, fmt.Errorf("log store %s: store logs: %w", s.path, err)
	}
	s.noteJournalWrite(wstart)
	j.tail += size
	r := &j.ranges[j.active]
	if r[1] == 0 {
		r[0] = first
	}
	r[1] = max(r[1], first+n-1)

	s.pmu.Lock()
	if len(s.pmu.ents) == 0 {
		s.pmu.lo = first
	}
	for i := range logs {
		s.pmu.ents = append(s.pmu.ents, buf[offs[i]:offs[i+1]-4:offs[i+1]-4])
	}
	s.pmu.Unlock()
	j.unckpt += size
	if j.unckpt >= j.ckptBytes() && j.ckptIdle() {
		// Checkpoint early and in small pieces rather than a whole file
		// at rotation: the disk flushes bbolt's pages of one checkpoint
		// before the journal's next fdatasync completes, so one large
		// checkpoint stalls every write on the disk for milliseconds.
		// Pending entries stay few, and the file to reuse at rotation is
		// long checkpointed.
		if err := s.waitCheckpointLocked(); err == nil {
			s.startCheckpointLocked()
		}
	}
	return true, nil
}

// ckptBytes returns how many bytes of records start a checkpoint: an
// eighth of a file, so the file left at rotation is long checkpointed and
// each checkpoint is a short disk write.
func (j *journal) ckptBytes() int64 { return j.size / 8 }

// ckptIdle reports whether no checkpoint is running. wmu is held.
func (j *journal) ckptIdle() bool {
	if j.ckpt == nil {
		return true
	}
	select {
	case <-j.ckpt.done:
		return true
	default:
		return false
	}
}

// rotateLocked switches to the other file: waits for its checkpoint, hands
// the pending entries (all in the active file) to a new checkpoint, and
// activates the other file. wmu is held.
func (s *BoltStore) rotateLocked() error {
	if err := s.waitCheckpointLocked(); err != nil {
		return err
	}
	s.startCheckpointLocked()
	return s.j.activate(1 - s.j.active)
}

// startCheckpointLocked starts writing the pending entries into bbolt in
// the background, if there are any. No checkpoint is in flight; wmu is
// held.
func (s *BoltStore) startCheckpointLocked() {
	s.pmu.RLock()
	c := &checkpoint{lo: s.pmu.lo, ents: s.pmu.ents[:len(s.pmu.ents):len(s.pmu.ents)], done: make(chan struct{})}
	s.pmu.RUnlock()
	s.j.unckpt = 0
	if len(c.ents) == 0 {
		return
	}
	s.j.ckpt = c
	go func() {
		defer close(c.done)
		c.err = s.commitPending(c.lo, c.ents)
	}()
}

// commitPending writes the entries lo.. into bbolt in one transaction and
// then drops them from pending. It runs in the checkpoint goroutine or
// under wmu.
func (s *BoltStore) commitPending(lo uint64, ents [][]byte) error {
	keys := make([]byte, 0, 8*len(ents))
	for i := range ents {
		keys = binary.BigEndian.AppendUint64(keys, lo+uint64(i))
	}
	start := time.Now()
	if err := s.putEncoded(keys, ents); err != nil {
		return fmt.Errorf("checkpoint of the journal: %w", err)
	}
	s.noteCheckpoint(start, len(ents))
	hi := lo + uint64(len(ents)) - 1
	s.pmu.Lock()
	if n := len(s.pmu.ents); n > 0 && s.pmu.lo <= hi {
		drop := min(hi-s.pmu.lo+1, uint64(n))
		// Let the dropped entries' buffers go before the array is
		// reallocated.
		clear(s.pmu.ents[:drop])
		s.pmu.ents = s.pmu.ents[drop:]
		s.pmu.lo += drop
		if len(s.pmu.ents) == 0 {
			s.pmu.lo, s.pmu.ents = 0, nil
		}
	}
	s.pmu.Unlock()
	return nil
}

// waitCheckpointLocked waits for the checkpoint in flight, if any. If it
// failed, it is retried here once; if that fails too, the error is
// returned and the checkpoint stays to be retried by the next call. wmu is
// held.
func (s *BoltStore) waitCheckpointLocked() error {
	c := s.j.ckpt
	if c == nil {
		return nil
	}
	<-c.done
	if c.err != nil {
		if err := s.commitPending(c.lo, c.ents); err != nil {
			return err
		}
	}
	s.j.ckpt = nil
	return nil
}

// flushLocked writes every pending entry into bbolt: it waits for the
// checkpoint in flight and commits the rest in one transaction. The
// journal files are unchanged. wmu is held.
func (s *BoltStore) flushLocked() error {
	if err := s.waitCheckpointLocked(); err != nil {
		return fmt.Errorf("log store %s: %w", s.path, err)
	}
	s.pmu.RLock()
	lo, ents := s.pmu.lo, s.pmu.ents[:len(s.pmu.ents):len(s.pmu.ents)]
	s.pmu.RUnlock()
	if len(ents) == 0 {
		return nil
	}
	if err := s.commitPending(lo, ents); err != nil {
		return fmt.Errorf("log store %s: %w", s.path, err)
	}
	return nil
}

// journalBeforeDeleteLocked prepares the journal for DeleteRange(min,
// max): a range reaching the end of the log flushes and resets the journal
// (otherwise the replay after a crash could bring deleted entries back, as
// bbolt's last index drops below journal records); one touching pending
// entries flushes them. It reports whether it did either: if not, the
// delete concerns bbolt alone. wmu is held.
func (s *BoltStore) journalBeforeDeleteLocked(min, max uint64) (acted bool, err error) {
	j := s.j
	if j.failed != nil {
		return false, fmt.Errorf("log store %s: delete range: journal failed earlier: %w", s.path, j.failed)
	}
	s.pmu.RLock()
	plo, pn := s.pmu.lo, uint64(len(s.pmu.ents))
	s.pmu.RUnlock()
	last := plo + pn - 1
	if pn == 0 {
		if last, err = s.boltLast(); err != nil {
			return false, err
		}
	}
	switch {
	case max >= last && j.hasRecords():
		if err := s.flushLocked(); err != nil {
			return true, err
		}
		if err := j.reset(); err != nil {
			return true, fmt.Errorf("log store %s: delete range: %w", s.path, err)
		}
		return true, nil
	case pn > 0 && min <= last && max >= plo:
		return true, s.flushLocked()
	}
	return false, nil
}

// closeJournalLocked writes the pending entries into bbolt, closes and
// removes the journal files. wmu is held.
func (s *BoltStore) closeJournalLocked() error {
	j := s.j
	err := s.flushLocked()
	j.closeFiles()
	if j.failed == nil {
		j.failed = errors.New("store closed")
	}
	if err != nil {
		// Keep the journal: the next open replays it.
		return err
	}
	if err := removeJournal(j.paths); err != nil {
		return fmt.Errorf("log store %s: close: %w", s.path, err)
	}
	return nil
}

// pendingEntry returns the encoding of the pending entry at index, or nil.
func (s *BoltStore) pendingEntry(index uint64) []byte {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	if n := uint64(len(s.pmu.ents)); n > 0 && index >= s.pmu.lo && index-s.pmu.lo < n {
		return s.pmu.ents[index-s.pmu.lo]
	}
	return nil
}
