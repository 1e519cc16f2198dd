package snapshot

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// sinkBufferSize is the write buffer in front of state.bin.
const sinkBufferSize = 256 << 10

// fileSink writes one snapshot of a FileSnapshotStore. Write, Close and
// Cancel may be called from different goroutines; Close and Cancel are
// idempotent and the first of them decides the outcome.
type fileSink struct {
	store *FileSnapshotStore
	// dir is the .tmp directory being written. Immutable.
	dir string

	mu struct {
		sync.Mutex
		// meta has Size and CRC filled by Close.
		meta fileMeta
		// state is state.bin; buf writes to it and hash sees every byte
		// buf flushes. All three are nil-free until done.
		state *os.File
		buf   *bufio.Writer
		hash  hash.Hash64
		// done is set by the first Close or Cancel; later writes fail.
		done bool
	}
}

// crcTable returns the CRC-64/ECMA table, as hashicorp/raft uses.
// crc64.MakeTable builds the ECMA table once and then returns it.
func crcTable() *crc64.Table { return crc64.MakeTable(crc64.ECMA) }

func newFileSink(store *FileSnapshotStore, dir string, meta fileMeta) (*fileSink, error) {
	s := &fileSink{store: store, dir: dir}
	s.mu.meta = meta
	if err := s.writeMetaLocked(); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, stateFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s.mu.state = f
	s.mu.hash = crc64.New(crcTable())
	s.mu.buf = bufio.NewWriterSize(hashingWriter{f: f, h: s.mu.hash}, sinkBufferSize)
	return s, nil
}

// hashingWriter writes to f and feeds what f accepted to h.
type hashingWriter struct {
	f *os.File
	h hash.Hash64
}

func (w hashingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	_, _ = w.h.Write(p[:n])
	return n, err
}

// ID implements raft.SnapshotSink.
func (s *fileSink) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.meta.ID
}

// Write implements raft.SnapshotSink.
func (s *fileSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.done {
		return 0, fmt.Errorf("snapshot: write to finished snapshot %s", s.mu.meta.ID)
	}
	return s.mu.buf.Write(p)
}

// Close implements raft.SnapshotSink: it makes the snapshot durable and
// visible, then removes snapshots beyond the store's retain count. If
// making it durable fails, the partial snapshot is removed and the error
// returned. A failure to reap older snapshots is only logged: the new
// snapshot is in place.
func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.done {
		return nil
	}
	s.mu.done = true
	if err := s.finishLocked(); err != nil {
		s.store.logger.Error("failed to finalize snapshot", "path", s.dir, "error", err)
		if rmErr := os.RemoveAll(s.dir); rmErr != nil {
			s.store.logger.Error("failed to remove temporary snapshot", "path", s.dir, "error", rmErr)
		}
		return err
	}
	if err := s.store.reap(); err != nil {
		s.store.logger.Warn("failed to reap old snapshots", "error", err)
	}
	return nil
}

// finishLocked flushes and syncs state.bin, writes the final meta.json,
// syncs the directory, renames it into place and syncs the parent.
func (s *fileSink) finishLocked() error {
	err := s.mu.buf.Flush()
	if err == nil && !s.store.noSync {
		err = s.mu.state.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = s.mu.state.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := s.mu.state.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snapshot: writing %s: %w", filepath.Join(s.dir, stateFile), err)
	}
	s.mu.meta.Size = size
	s.mu.meta.CRC = s.mu.hash.Sum(nil)
	if err := s.writeMetaLocked(); err != nil {
		return err
	}
	if err := s.syncDir(s.dir); err != nil {
		return err
	}
	final := strings.TrimSuffix(s.dir, tmpSuffix)
	if err := os.Rename(s.dir, final); err != nil {
		return fmt.Errorf("snapshot: moving snapshot into place: %w", err)
	}
	return s.syncDir(s.store.path)
}

// writeMetaLocked writes meta.json in the .tmp directory and syncs it.
func (s *fileSink) writeMetaLocked() error {
	path := filepath.Join(s.dir, metaFile)
	b, err := marshalMeta(&s.mu.meta)
	if err != nil {
		return fmt.Errorf("snapshot: encoding %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	_, err = f.Write(b)
	if err == nil && !s.store.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snapshot: writing %s: %w", path, err)
	}
	return nil
}

func (s *fileSink) syncDir(dir string) error { return syncDir(dir, s.store.noSync) }

// Cancel implements raft.SnapshotSink: the partial snapshot is removed.
func (s *fileSink) Cancel() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.done {
		return nil
	}
	s.mu.done = true
	closeErr := s.mu.state.Close()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("snapshot: removing cancelled snapshot %s: %w", s.dir, err)
	}
	if closeErr != nil && !errors.Is(closeErr, os.ErrClosed) {
		return fmt.Errorf("snapshot: closing cancelled snapshot %s: %w", s.dir, closeErr)
	}
	return nil
}
