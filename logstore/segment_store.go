package logstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"go.etcd.io/bbolt"

	raft "github.com/pontoon-raft/raft"
)

// SegmentStore is a LogStore that keeps the log in segment files written
// once: each StoreLogs is one record appended to the active segment with
// one write and one fdatasync, and nothing is copied afterwards (BoltStore
// writes every entry twice, to its journal and then to bbolt). Entries
// are read back from the files with pread, through an index in memory
// (8 bytes per entry). Segments are preallocated (fallocate) and, once
// compaction has deleted every entry they hold, reused for later ones.
//
// Its StableStore (term, vote) is a BoltStore without a journal in the
// same directory (stable.db): those writes are rare.
//
// The file formats are in segment_format.go. Crash and damage: as
// BoltStore's journal (see the package comment), after a crash New opens
// the store with every acknowledged StoreLogs and DeleteRange, or refuses
// with an error wrapping raft.ErrCorrupt that names the file: a segment
// missing (the state file names the oldest one still needed), of another
// store, with a damaged header, or whose records end anywhere but at the
// end mark of the last write or in a write a crash interrupted.
//
// SegmentStore is not the default and has no hashicorp counterpart: a
// directory it wrote is readable only by it.
//
// All methods are safe for concurrent use; GetLog, FirstIndex and
// LastIndex run concurrently with each other and with a write's fdatasync.
type SegmentStore struct {
	dir     string
	id      uint64
	segSz   int64
	mode    os.FileMode
	ro      bool // SegmentOptions.ReadOnly
	stable  *BoltStore
	metrics metricSink

	// wmu serialises the writers (StoreLogs, DeleteRange, Close).
	wmu sync.Mutex
	// Guarded by wmu:
	active *segment   // the segment records are appended to; in segs
	tail   int64      // offset in active where the next record goes
	buf    []byte     // encoding buffer, reused
	ents   []segEntry // StoreLogs' entries in buf, reused
	failed error      // a write or sync failed: the file's state is unknown
	closed bool
	next   *nextSegment   // the next segment, being prepared; nil if none
	prep   sync.WaitGroup // its goroutine
	torn   bool           // at open: the newest segment ends in a torn write

	// mu guards the index and the segment list; readers share it.
	mu   sync.RWMutex
	idx  segIndex
	segs []*segment // ascending, contiguous seqs
}

// segment is one open segment file.
type segment struct {
	seq  uint64
	path string
	f    *os.File
	size int64
	// live counts the index's entries in this segment (guarded by
	// SegmentStore.mu).
	live int
	// since is when the segment was created, or opened if it already
	// existed (raft.wal.last_segment_age_seconds).
	since time.Time
}

// SegmentOptions configures a SegmentStore.
type SegmentOptions struct {
	// Dir is the directory of the store (created if missing). Required.
	Dir string
	// SegmentSize is the size of each segment file; 0 means
	// DefaultSegmentSize, and at most 4 GiB. A record larger than that
	// gets a segment of its own size (up to 4 GiB: a larger batch is
	// refused).
	SegmentSize int64
	// FileMode is the mode of new files; 0 means DefaultFileMode.
	FileMode os.FileMode
	// ReadOnly opens an existing store for reading only (an inspection
	// tool, or a copy): nothing in the directory is written, created or
	// removed — a crash's leftovers (a torn last write, an unfinished
	// rotation's empty segment, temporary files) are read past and left
	// as they are — and StoreLogs, DeleteRange, Set and SetUint64 fail.
	// Damage is refused exactly as by a read-write open. A store
	// another process holds open read-write may be mid-write: inspect a
	// stopped node's directory, or a copy.
	ReadOnly bool
	// Metrics receives the store's metrics (raft-wal's raft.wal.* keys and
	// raft.pontoon.segment.write; see segment_metrics.go and
	// docs/metrics.md). nil means go-metrics' global instance, looked up
	// at every call.
	Metrics *metrics.Metrics
}

const (
	// DefaultSegmentSize is the size of a segment file.
	DefaultSegmentSize = 64 << 20
	// maxSegmentSize bounds a segment (the index's offsets are 32-bit).
	maxSegmentSize = 1<<32 - 1
	// segStateName is the state file's name in the store's directory.
	segStateName = "segments.state"
	// segStableName is the StableStore's file.
	segStableName = "stable.db"
	segSuffix     = ".seg"
	// segNextName is a segment file compaction emptied, kept to be
	// the next segment's (its blocks are written: no extents to convert).
	segNextName  = "next.seg.spare"
	segTmpSuffix = ".tmp"
)

// NewSegmentStore opens or creates a SegmentStore in opts.Dir.
func NewSegmentStore(opts SegmentOptions) (_ *SegmentStore, err error) {
	if opts.Dir == "" {
		return nil, errors.New("segment store: empty directory")
	}
	if opts.SegmentSize == 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentSize < MinJournalSize {
		opts.SegmentSize = MinJournalSize
	}
	if opts.SegmentSize > maxSegmentSize {
		opts.SegmentSize = maxSegmentSize
	}
	opts.SegmentSize = (opts.SegmentSize + journalSector - 1) / journalSector * journalSector
	if opts.FileMode == 0 {
		opts.FileMode = DefaultFileMode
	}
	if opts.ReadOnly {
		if _, err := os.Stat(filepath.Join(opts.Dir, segStateName)); err != nil {
			return nil, fmt.Errorf("segment store %s: not a segment store (read-only open): %w", opts.Dir, err)
		}
	} else if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("segment store: %w", err)
	}
	s := &SegmentStore{dir: opts.Dir, segSz: opts.SegmentSize, mode: opts.FileMode, ro: opts.ReadOnly,
		metrics: metricSink{m: opts.Metrics}}
	// NB: create makes stable.db before the state file, so a store with a
	// state file and no stable.db lost it (and its term and vote: a new
	// empty one would let the node vote twice in a term).
	stablePath := filepath.Join(opts.Dir, segStableName)
	if _, err := os.Stat(filepath.Join(opts.Dir, segStateName)); err == nil {
		if _, err := os.Stat(stablePath); os.IsNotExist(err) {
			return nil, fmt.Errorf("%w: segment store: %s is missing (the store's term and vote)", raft.ErrCorrupt, stablePath)
		}
	}
	sopts := Options{Path: stablePath, FileMode: opts.FileMode, NoJournal: true}
	if s.ro {
		sopts.BoltOptions = &bbolt.Options{ReadOnly: true, Timeout: time.Second}
	}
	s.stable, err = New(sopts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.closeFiles()
			_ = s.stable.Close()
		}
	}()
	if err := s.open(); err != nil {
		return nil, err
	}
	if !s.ro {
		s.prepareNextLocked()
	}
	return s, nil
}

// segPath returns the path of segment seq.
func (s *SegmentStore) segPath(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, segSuffix))
}

// open recovers the store from its files, or creates it.
func (s *SegmentStore) open() error {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("segment store: %w", err)
	}
	var seqs []uint64
	for _, e := range names {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, segTmpSuffix):
			// A segment or state file being created: never
			// acknowledged data.
			if !s.ro {
				_ = os.Remove(filepath.Join(s.dir, name))
			}
		case strings.HasSuffix(name, segSuffix):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
			if err != nil || seq == 0 || name != filepath.Base(s.segPath(seq)) {
				return fmt.Errorf("%w: segment store %s: unexpected file %s", raft.ErrCorrupt, s.dir, name)
			}
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	statePath := filepath.Join(s.dir, segStateName)
	b, err := os.ReadFile(statePath)
	if os.IsNotExist(err) {
		return s.create(seqs)
	}
	if err != nil {
		return fmt.Errorf("segment store: %w", err)
	}
	st, err := parseSegState(b)
	if err != nil {
		return fmt.Errorf("%w: segment store state %s: %v", raft.ErrCorrupt, statePath, err)
	}
	s.id = st.id
	// Segments below the lowest were emptied by compaction; their
	// removal may not have reached the disk.
	for len(seqs) > 0 && seqs[0] < st.lowest {
		if !s.ro {
			_ = os.Remove(s.segPath(seqs[0]))
		}
		seqs = seqs[1:]
	}
	// Segments above the highest were being created when the process
	// stopped: the state file is written before a segment takes records.
	for len(seqs) > 0 && seqs[len(seqs)-1] > st.highest {
		seq := seqs[len(seqs)-1]
		if err := s.removeNewSegment(seq); err != nil {
			return err
		}
		seqs = seqs[:len(seqs)-1]
	}
	if len(seqs) == 0 || seqs[0] != st.lowest {
		return fmt.Errorf("%w: segment store: segment %s is missing (the state file %s names it the oldest)", raft.ErrCorrupt, s.segPath(st.lowest), statePath)
	}
	for i, seq := range seqs {
		if seq != st.lowest+uint64(i) {
			return fmt.Errorf("%w: segment store: segment %s is missing (%s follows it)", raft.ErrCorrupt, s.segPath(st.lowest+uint64(i)), s.segPath(seq))
		}
		if err := s.load(seq, seq == st.highest); err != nil {
			return err
		}
	}
	if last := seqs[len(seqs)-1]; last != st.highest {
		return fmt.Errorf("%w: segment store: segment %s is missing (the state file %s names it the newest)", raft.ErrCorrupt, s.segPath(st.highest), statePath)
	}
	s.active = s.segs[len(s.segs)-1]
	if s.torn && !s.ro {
		// NB: a crash interrupted the last write. Its record is never
		// acknowledged; an end mark over its start makes the segment end
		// cleanly, so that only the newest segment can ever end in a torn
		// write (load refuses one anywhere else), even if the next write
		// goes to a new segment.
		b := appendEndMark(nil, journalKey{s.id, s.active.seq}, s.tail)
		if _, err := s.active.f.WriteAt(b, s.tail); err != nil {
			return fmt.Errorf("segment store: segment %s: %w", s.active.path, err)
		}
		if err := fdatasync(s.active.f); err != nil {
			return fmt.Errorf("segment store: segment %s: %w", s.active.path, err)
		}
		s.torn = false
	}
	return nil
}

// create sets up a new store: segment 1, then the state file. Segment
// files without a state file are a create that did not finish, and may
// only be empty.
func (s *SegmentStore) create(seqs []uint64) error {
	for _, seq := range seqs {
		if err := s.removeNewSegment(seq); err != nil {
			return err
		}
	}
	id, err := newJournalID()
	if err != nil {
		return fmt.Errorf("segment store: %w", err)
	}
	s.id = id
	seg, err := s.newSegment(1, s.segSz)
	if err != nil {
		return err
	}
	s.segs = []*segment{seg}
	s.active, s.tail = seg, journalDataStart
	return s.writeState(1, 1)
}

// removeNewSegment removes segment seq, which the state file does not
// name: a create or rotation that did not finish. It must hold no record
// (nothing was acknowledged in it); anything else is refused.
func (s *SegmentStore) removeNewSegment(seq uint64) error {
	path := s.segPath(seq)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("segment store: %w", err)
	}
	h, herr := parseSegHeader(b)
	if herr != nil || h.size != int64(len(b)) || !endMarkAt(b, h.key(), journalDataStart) {
		return fmt.Errorf("%w: segment store: segment %s is not named by the state file %s and is not an empty new segment",
			raft.ErrCorrupt, path, filepath.Join(s.dir, segStateName))
	}
	if s.ro {
		return nil // left for the next read-write open to remove
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("segment store: %w", err)
	}
	return nil
}

// load reads segment seq, checks it and adds its records to the index.
// Only the newest may end in a write a crash interrupted.
func (s *SegmentStore) load(seq uint64, newest bool) error {
	path := s.segPath(seq)
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: segment store: segment %s: %s", raft.ErrCorrupt, path, fmt.Sprintf(format, args...))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("segment store: %w", err)
	}
	h, err := parseSegHeader(b)
	if err != nil {
		return corrupt("%v", err)
	}
	switch {
	case h.id != s.id:
		return corrupt("belongs to store %016x, not %016x (the state file's)", h.id, s.id)
	case h.seq != seq:
		return corrupt("header says segment %d", h.seq)
	case h.size != int64(len(b)):
		return corrupt("%d bytes, its header says %d", len(b), h.size)
	}
	flag := os.O_RDWR
	if s.ro {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return fmt.Errorf("segment store: %w", err)
	}
	// NB: in the list before its records are indexed (their live
	// counts); on an error NewSegmentStore closes it with the others.
	seg := &segment{seq: seq, path: path, f: f, size: h.size, since: time.Now()}
	s.segs = append(s.segs, seg)
	var p segPayload
	sc, err := scanRecordsWith(b, h.key(), func(off int64) payloadFunc {
		return func(payload []byte, _ uint32) error {
			if err := parseSegPayload(payload, &p); err != nil {
				return err
			}
			if p.del {
				s.indexDelete(p.min, p.max)
			} else {
				s.indexPut(seg, off+journalRecHdrLen, p.ents)
			}
			return nil
		}
	})
	if err != nil {
		return corrupt("%v", err)
	}
	switch {
	case sc.endKind == endNone:
		return corrupt("records end at offset %d with neither the end mark of the last write nor a write a crash interrupted: records are missing", sc.end)
	case sc.endKind == endTorn && !newest:
		return corrupt("records end at offset %d in what looks like a write a crash interrupted, but only the newest segment can end so: records are missing", sc.end)
	}
	s.torn = sc.endKind == endTorn
	s.tail = sc.end
	return nil
}

// indexPut adds entries of seg to the index (each at file offset
// base+e.off), and keeps the segments' live counts.
// Callers hold mu (or own the store, at open).
func (s *SegmentStore) indexPut(seg *segment, base int64, ents []segEntry) {
	for _, e := range ents {
		old, replaced := s.idx.put(e.index, segRef{seq: seg.seq, off: base + int64(e.off), n: uint32(e.len)})
		seg.live++
		if replaced {
			s.segByRef(old).live--
		}
	}
}

// indexDelete removes min through max from the index, and keeps the
// segments' live counts. Callers hold mu (or own the store).
func (s *SegmentStore) indexDelete(min, max uint64) {
	s.idx.deleteRange(min, max, func(r segRef) { s.segByRef(r).live-- })
}

// segByRef returns the segment holding ref. Callers hold mu (or own the
// store, at open).
func (s *SegmentStore) segByRef(r segRef) *segment {
	return s.segs[r.seq-s.segs[0].seq]
}

// FirstIndex returns the first index, or 0 if the log is empty.
func (s *SegmentStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	first, _ := s.idx.bounds()
	return first, nil
}

// LastIndex returns the last index, or 0 if the log is empty.
func (s *SegmentStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, last := s.idx.bounds()
	return last, nil
}

// segReadBufs recycles GetLog's read buffers.
var segReadBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// GetLog reads the entry at index into log; raft.ErrLogNotFound (itself)
// if there is none.
func (s *SegmentStore) GetLog(index uint64, log *raft.Log) error {
	bp := segReadBufs.Get().(*[]byte)
	defer segReadBufs.Put(bp)
	s.mu.RLock()
	ref, ok := s.idx.get(index)
	if !ok {
		s.mu.RUnlock()
		return raft.ErrLogNotFound
	}
	if ref.seq < s.segs[0].seq || ref.seq-s.segs[0].seq >= uint64(len(s.segs)) {
		s.mu.RUnlock()
		// NB: an invariant broken (compaction removes only segments
		// with no entry in the index): an error, not a panic.
		return fmt.Errorf("segment store %s: entry %d is in segment %d, which is not open", s.dir, index, ref.seq)
	}
	seg := s.segByRef(ref)
	if cap(*bp) < int(ref.n) {
		*bp = make([]byte, ref.n)
	}
	b := (*bp)[:ref.n]
	// NB: under the read lock: compaction closes a segment's file only
	// with the write lock held.
	_, err := seg.f.ReadAt(b, ref.off)
	s.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("segment store: segment %s: read entry %d: %w", seg.path, index, err)
	}
	if err := decodeLog(b, log); err != nil {
		return fmt.Errorf("%w: segment store: segment %s: entry %d at offset %d: %v", raft.ErrCorrupt, seg.path, index, ref.off, err)
	}
	s.noteRead(int(ref.n))
	if cap(*bp) > 1<<20 {
		*bp = make([]byte, 0, 4096)
	}
	return nil
}

// Set, Get, SetUint64 and GetUint64 are the StableStore, kept in stable.db.
func (s *SegmentStore) Set(key, val []byte) error {
	if s.ro {
		return errSegReadOnly
	}
	s.noteStable(true)
	return s.stable.Set(key, val)
}

// Get returns the value of key, or raft.ErrKeyNotFound.
func (s *SegmentStore) Get(key []byte) ([]byte, error) {
	s.noteStable(false)
	return s.stable.Get(key)
}

// SetUint64 stores val under key.
func (s *SegmentStore) SetUint64(key []byte, val uint64) error {
	if s.ro {
		return errSegReadOnly
	}
	s.noteStable(true)
	return s.stable.SetUint64(key, val)
}

// GetUint64 returns the uint64 under key, or raft.ErrKeyNotFound.
func (s *SegmentStore) GetUint64(key []byte) (uint64, error) {
	s.noteStable(false)
	return s.stable.GetUint64(key)
}

// Close closes the files. Every
// acknowledged write is already on disk; Close writes nothing.
func (s *SegmentStore) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.dropNextLocked()
	s.prep.Wait()
	s.mu.Lock()
	s.closeFiles()
	s.mu.Unlock()
	return s.stable.Close()
}

// closeFiles closes every segment's file.
func (s *SegmentStore) closeFiles() {
	for _, seg := range s.segs {
		_ = seg.f.Close()
	}
}
