package logstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// This file is SegmentStore's write path: records, segment rotation and
// creation, and compaction.

// errSegClosed is returned by writes after Close.
var errSegClosed = errors.New("segment store: closed")

// errSegReadOnly is the error of a write to a store opened ReadOnly.
var errSegReadOnly = errors.New("segment store: opened read-only")

// StoreLog stores one entry.
func (s *SegmentStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores the entries as one record: one write, one fdatasync.
// After a crash either all of them are there or none is.
func (s *SegmentStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	consecutive := logs[0].Index != 0
	for i, l := range logs {
		if l.Index != logs[0].Index+uint64(i) || (i > 0 && l.Index == 0) {
			consecutive = false
			break
		}
	}
	// ents: where each entry's encoded bytes are in buf (the record).
	ents := s.ents[:0]
	var buf []byte
	var err error
	if consecutive {
		buf, _ = beginRecord(s.buf[:0], logs[0].Index, len(logs))
		for _, l := range logs {
			var at int
			if buf, at, err = appendRecordEntry(buf, l); err != nil {
				return fmt.Errorf("segment store: store logs: %w", err)
			}
			ents = append(ents, segEntry{index: l.Index, off: at, len: len(buf) - at})
		}
	} else {
		buf, _ = beginIndexedRecord(s.buf[:0], len(logs))
		var enc []byte
		for _, l := range logs {
			if enc, err = appendLog(enc[:0], l); err != nil {
				return fmt.Errorf("segment store: store logs: %w", err)
			}
			var at int
			buf, at = appendIndexedEntry(buf, l.Index, enc)
			ents = append(ents, segEntry{index: l.Index, off: at, len: len(enc)})
		}
	}
	s.ents = ents
	start := time.Now()
	off, buf, err := s.writeRecordLocked(buf)
	s.buf = buf
	if err != nil {
		return err
	}
	if s.metrics.get() != nil {
		n := 0
		for _, e := range ents {
			n += e.len
		}
		s.noteAppend(len(logs), n, start)
	}
	s.mu.Lock()
	s.indexPut(s.active, off, ents)
	s.mu.Unlock()
	return nil
}

// DeleteRange deletes the entries min through max, inclusive, with one
// record (none if there is nothing to delete), then removes the oldest
// segments left without entries.
func (s *SegmentStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	s.mu.RLock()
	first, last := s.idx.bounds()
	s.mu.RUnlock()
	if first == 0 && last == 0 || max < first || min > last {
		return nil
	}
	buf, _ := beginDeleteRecord(s.buf[:0], min, max)
	_, buf, err := s.writeRecordLocked(buf)
	s.buf = buf
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.indexDelete(min, max)
	s.mu.Unlock()
	s.noteTruncation(min, max, first, last)
	return s.compactLocked()
}

// writableLocked returns why the store takes no writes, if it does not.
func (s *SegmentStore) writableLocked() error {
	if s.closed {
		return errSegClosed
	}
	if s.ro {
		return errSegReadOnly
	}
	if s.failed != nil {
		return fmt.Errorf("segment store: a write failed earlier: %w", s.failed)
	}
	return nil
}

// writeRecordLocked completes the record buf holds (begun at its start),
// writes it with its end mark at the active segment's tail, rotating
// first if it does not fit, and fdatasyncs it. It returns the file offset
// of the record (buf offsets plus it are file offsets) and the buffer.
func (s *SegmentStore) writeRecordLocked(buf []byte) (int64, []byte, error) {
	size := recordLen(len(buf) - journalRecHdrLen)
	need := size + journalSectorPad + journalMarkLen
	if s.tail+need > s.active.size {
		if err := s.rotateLocked(need); err != nil {
			return 0, buf, err
		}
	}
	if (s.tail+size)%journalSector == 0 {
		// NB: the end mark must share a sector with the record's last
		// bytes (see journal.go): pad the payload.
		buf = append(buf, make([]byte, journalSectorPad)...)
		size = recordLen(len(buf) - journalRecHdrLen)
	}
	buf, err := finishRecord(buf, 0, journalKey{s.id, s.active.seq}, s.tail, 0)
	if err != nil {
		return 0, buf, fmt.Errorf("segment store: %w", err)
	}
	off := s.tail
	if _, err := s.active.f.WriteAt(buf, off); err != nil {
		s.failed = fmt.Errorf("segment %s: write: %w", s.active.path, err)
		return 0, buf, fmt.Errorf("segment store: %w", s.failed)
	}
	if err := fdatasync(s.active.f); err != nil {
		s.failed = fmt.Errorf("segment %s: fdatasync: %w", s.active.path, err)
		return 0, buf, fmt.Errorf("segment store: %w", s.failed)
	}
	s.tail += size
	if cap(buf) > 4<<20 {
		buf = nil
	}
	return off, buf, nil
}

// rotateLocked makes a new segment, large enough for need bytes of
// records, the active one.
func (s *SegmentStore) rotateLocked(need int64) error {
	size := s.segSz
	if min := int64(journalDataStart) + need; min > size {
		size = (min + journalSector - 1) / journalSector * journalSector
	}
	if size > maxSegmentSize {
		// NB: the index keeps offsets in 32 bits.
		return fmt.Errorf("segment store: a record of %d bytes is larger than a segment can be (%d)", need, int64(maxSegmentSize))
	}
	var seg *segment
	if n := s.next; n != nil {
		<-n.done
		s.next = nil
		if n.err == nil && n.seg.size >= size {
			seg = n.seg
		} else if n.err == nil {
			// Too small for this record: newSegment below replaces
			// the file.
			_ = n.seg.f.Close()
		}
	}
	if seg == nil {
		var err error
		if seg, err = s.newSegment(s.active.seq+1, size); err != nil {
			s.failed = err
			return fmt.Errorf("segment store: %w", err)
		}
	}
	// NB: before the segment's first record: an open then knows a
	// missing newest segment from a rotation that did not finish.
	if err := s.writeState(s.segs[0].seq, seg.seq); err != nil {
		_ = seg.f.Close()
		s.failed = err
		return fmt.Errorf("segment store: %w", err)
	}
	s.mu.Lock()
	s.segs = append(s.segs, seg)
	s.mu.Unlock()
	s.noteRotation(s.active.since)
	s.active, s.tail = seg, journalDataStart
	s.prepareNextLocked()
	return nil
}

// nextSegment is a segment being made ready ahead of the rotation that
// will take it: done closes when seg or err is set.
type nextSegment struct {
	done chan struct{}
	seg  *segment
	err  error
}

// prepareNextLocked starts making segment active+1 (newSegment: its file
// allocated, its header written and synced, named and the directory
// synced) in the background, so that a rotation only has to write the
// state file: the three nodes of a cluster rotate at about the same
// moment, and a rotation doing all of it under the write lock showed in
// their tail latency. Until the state file names it, an open removes it
// as a rotation that did not finish (it holds no record).
func (s *SegmentStore) prepareNextLocked() {
	n := &nextSegment{done: make(chan struct{})}
	s.next = n
	seq := s.active.seq + 1
	s.prep.Add(1)
	go func() {
		defer s.prep.Done()
		defer close(n.done)
		n.seg, n.err = s.newSegment(seq, s.segSz)
	}()
}

// dropNextLocked waits for the segment being prepared and removes it (it
// holds no record).
func (s *SegmentStore) dropNextLocked() {
	n := s.next
	if n == nil {
		return
	}
	s.next = nil
	<-n.done
	if n.err == nil {
		_ = n.seg.f.Close()
		_ = os.Remove(n.seg.path)
		_ = syncDir(s.dir)
	}
}

// newSegment creates segment seq of size bytes: under a temporary name,
// it takes the spare file (a segment compaction emptied) if there is one
// of that size, else fallocates one; writes the header and the first end mark, fdatasyncs, renames
// the file into place and fsyncs the directory. A file with a segment's
// name therefore always has a valid header.
func (s *SegmentStore) newSegment(seq uint64, size int64) (*segment, error) {
	path := s.segPath(seq)
	tmp := path + segTmpSuffix
	next := filepath.Join(s.dir, segNextName)
	var f *os.File
	if st, err := os.Stat(next); err == nil && st.Size() == size && os.Rename(next, tmp) == nil {
		f, err = os.OpenFile(tmp, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", path, err)
		}
	} else {
		f, err = allocFile(tmp, size, s.mode)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", path, err)
		}
	}
	fail := func(err error) (*segment, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("segment %s: %w", path, err)
	}
	h := segHeader{id: s.id, seq: seq, size: size}
	b := appendSegHeader(make([]byte, 0, journalDataStart+journalMarkLen), h)
	b = append(b, make([]byte, journalDataStart-len(b))...)
	b = appendEndMark(b, h.key(), journalDataStart)
	if _, err := f.WriteAt(b, 0); err != nil {
		return fail(err)
	}
	if err := fdatasync(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := syncDir(s.dir); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("segment %s: %w", path, err)
	}
	return &segment{seq: seq, path: path, f: f, size: size, since: time.Now()}, nil
}

// allocFile creates path with size bytes allocated (fallocate: no data
// written) and fsyncs it and its directory entry's file.
//
// NB: fallocated, not written with zeros as the journal's two reused
// files are: a segment is written once, so zeros would double the bytes
// written, and on this project's benchmark machine the zeros' writeback
// (three nodes on one disk) stalled StoreLogs for 15-200 ms and cost
// 16-22% of a node's CPU; fallocated, the first write to each extent makes
// its fdatasync commit the extent's conversion too (raft-wal pays the
// same). A segment reused after compaction has written blocks already.
func allocFile(path string, size int64, mode os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return nil, err
	}
	if err := fallocate(f, size); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return f, nil
}

// compactLocked removes the oldest segments that hold no entries (never
// the active one): first the state file names the oldest one kept, then
// their files go. One is kept as the next segment's file.
func (s *SegmentStore) compactLocked() error {
	s.mu.RLock()
	n := 0
	for n < len(s.segs)-1 && s.segs[n].live == 0 {
		n++
	}
	s.mu.RUnlock()
	if n == 0 {
		return nil
	}
	if err := s.writeState(s.segs[n].seq, s.active.seq); err != nil {
		s.failed = err
		return fmt.Errorf("segment store: %w", err)
	}
	s.mu.Lock()
	gone := append([]*segment(nil), s.segs[:n]...)
	s.segs = append([]*segment(nil), s.segs[n:]...)
	s.mu.Unlock()
	next := filepath.Join(s.dir, segNextName)
	for _, seg := range gone {
		_ = seg.f.Close()
		if _, err := os.Stat(next); os.IsNotExist(err) && seg.size == s.segSz {
			// Reused: its records cannot validate under a new seq.
			if os.Rename(seg.path, next) == nil {
				continue
			}
		}
		_ = os.Remove(seg.path)
	}
	return nil
}

// writeState replaces the state file: the store id, the oldest segment
// kept and the newest.
func (s *SegmentStore) writeState(lowest, highest uint64) error {
	path := filepath.Join(s.dir, segStateName)
	tmp := path + segTmpSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, s.mode)
	if err != nil {
		return fmt.Errorf("segment state %s: %w", path, err)
	}
	_, err = f.Write(segState{id: s.id, lowest: lowest, highest: highest}.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("segment state %s: %w", path, err)
	}
	return nil
}
