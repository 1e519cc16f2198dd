package logstore

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
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
// Checkpoints: once an eighth of a file, or ckptMaxEntries entries, have
// been appended since the last checkpoint started, and none is running,
// StoreLogs hands every pending entry to a new checkpoint. Small, early checkpoints keep the disk's
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
	// id is the journal's id, in both headers and in the bbolt record
	// (journal_state.go). Immutable.
	id uint64
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
	// checkpoint started, and unckptEnts their entries; at ckptBytes()
	// or ckptMaxEntries the next StoreLogs starts one.
	unckpt     int64
	unckptEnts int
	// failed is set when a journal write or sync failed, and at Close.
	failed error

	// syncs counts the fdatasyncs of journal files (for tests).
	syncs atomic.Int64

	// reach is the point the journal has reached: the active file's
	// generation and the offset just past its last acknowledged record.
	// It is set after each record's fdatasync and read by every bbolt
	// transaction of the store, which records it (stampTx), so that an
	// open can tell records lost from the tail from a torn write.
	reach struct {
		sync.Mutex
		gen uint64
		off int64
	}
}

// checkpoint is one batch of pending entries being written into bbolt.
type checkpoint struct {
	lo   uint64
	ents [][]byte
	done chan struct{}
	// err is the result; it is written before done is closed.
	err error
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
// is valid any more, and makes it the active file. minTx is the store's
// last bbolt transaction, recorded in the header. The end mark goes first,
// synced before the header: a file whose header is valid always has an end
// mark or a record where its records start. A failure is sticky.
func (j *journal) activate(i int, minTx uint64) error {
	h := journalHeader{id: j.id, gen: max(j.gens[0], j.gens[1]) + 1, minTx: minTx, size: j.size}
	if _, err := j.files[i].WriteAt(appendEndMark(nil, h.key(), journalDataStart), journalDataStart); err != nil {
		j.failed = fmt.Errorf("journal %s: write end mark: %w", j.paths[i], err)
		return j.failed
	}
	if err := j.sync(i); err != nil {
		j.failed = err
		return err
	}
	if _, err := j.files[i].WriteAt(appendJournalHeader(nil, h), 0); err != nil {
		j.failed = fmt.Errorf("journal %s: write header: %w", j.paths[i], err)
		return j.failed
	}
	if err := j.sync(i); err != nil {
		j.failed = err
		return err
	}
	j.gens[i] = h.gen
	j.ranges[i] = [2]uint64{}
	j.active, j.tail = i, journalDataStart
	j.setReach(h.gen, journalDataStart)
	return nil
}

// setReach publishes the point the journal has reached.
func (j *journal) setReach(gen uint64, off int64) {
	j.reach.Lock()
	j.reach.gen, j.reach.off = gen, off
	j.reach.Unlock()
}

// getReach returns the point the journal has reached.
func (j *journal) getReach() (gen uint64, off int64) {
	j.reach.Lock()
	defer j.reach.Unlock()
	return j.reach.gen, j.reach.off
}

// reset leaves nothing valid in either file: new generations on both, the
// active one last (so it has the highest). Pending entries must be in bbolt.
func (j *journal) reset(minTx uint64) error {
	if err := j.activate(1-j.active, minTx); err != nil {
		return err
	}
	return j.activate(1-j.active, minTx)
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
	est := journalRecHdrLen + journalPayloadMin + journalAlign + journalSectorPad + journalMarkLen
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
	if size+journalSectorPad+journalMarkLen > j.size-journalDataStart {
		return false, nil // larger than a journal file
	}
	if j.tail+size+journalSectorPad+journalMarkLen > j.size {
		if err := s.rotateLocked(); err != nil {
			return true, fmt.Errorf("log store %s: store logs: %w", s.path, err)
		}
	}
	if (j.tail+size)%journalSector == 0 {
		// NB: the end mark must share a sector with the record's last
		// bytes (see journal.go): pad the payload.
		buf = append(buf, make([]byte, journalSectorPad)...)
		size = recordLen(len(buf) - start - journalRecHdrLen)
	}
	if buf, err = finishRecord(buf, start, journalKey{j.id, j.gens[j.active]}, j.tail, s.lastTx.Load()); err != nil {
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
	j.setReach(j.gens[j.active], j.tail)
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
	j.unckptEnts += len(logs)
	if j.ckptDue() && j.ckptIdle() {
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

// ckptMaxEntries is how many entries appended since the last checkpoint
// started start one, whatever their size.
//
// NB: a checkpoint's cost has two parts: its bytes (bbolt's page writes,
// which the disk flushes) and its entries (one B+tree insert each, and
// pages of small keys and values to split). A byte trigger alone makes
// checkpoints of small entries very long (an 8 MiB journal's 1 MiB of
// 16-byte commands is ~10,000 entries, 100-180 ms in the bench) and one
// of entries alone makes those of large entries many and small (each
// bbolt commit costs two fsyncs and the pages it rewrites: the last leaf,
// the branches, the freelist and the meta page). Whichever comes first
// bounds both.
const ckptMaxEntries = 2048

// ckptBytes returns how many bytes of records start a checkpoint: an
// eighth of a file, so the file left at rotation is long checkpointed and
// each checkpoint is a short disk write.
func (j *journal) ckptBytes() int64 { return j.size / 8 }

// ckptDue reports whether enough has been appended since the last
// checkpoint started to start another: ckptBytes of records or
// ckptMaxEntries entries. wmu is held.
func (j *journal) ckptDue() bool {
	return j.unckpt >= j.ckptBytes() || j.unckptEnts >= ckptMaxEntries
}

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
	return s.j.activate(1-s.j.active, s.lastTx.Load())
}

// startCheckpointLocked starts writing the pending entries into bbolt in
// the background, if there are any. No checkpoint is in flight; wmu is
// held.
func (s *BoltStore) startCheckpointLocked() {
	s.pmu.RLock()
	c := &checkpoint{lo: s.pmu.lo, ents: s.pmu.ents[:len(s.pmu.ents):len(s.pmu.ents)], done: make(chan struct{})}
	s.pmu.RUnlock()
	s.j.unckpt, s.j.unckptEnts = 0, 0
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
		if err := j.reset(s.lastTx.Load()); err != nil {
			return true, fmt.Errorf("log store %s: delete range: %w", s.path, err)
		}
		return true, nil
	case pn > 0 && min <= last && max >= plo:
		return true, s.flushLocked()
	case pn > 0 && j.hasRecords():
		// NB: a prefix delete that takes bbolt's last entry (bbolt holds
		// only what it deletes; the rest is pending) lowers bbolt's last
		// index below records already checkpointed, which the replay at
		// open would bring back (entries above bbolt's last index). The
		// pending entries go into bbolt first, so its last index stays at
		// the journal's.
		bl, err := s.boltLast()
		if err != nil {
			return false, err
		}
		if bl != 0 && max >= bl {
			return true, s.flushLocked()
		}
	}
	return false, nil
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
