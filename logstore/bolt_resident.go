package logstore

import (
	"sync"
	"sync/atomic"
)

// Resident mapped pages.
//
// bbolt reads its file through one shared, read-only mmap, and every page a
// read touches stays mapped into the process until the mapping is replaced
// (bbolt remaps only when the file outgrows it): the last leaf and the
// branch pages above it at every checkpoint, each leaf a compaction deletes
// (the cursor walks them), each entry GetLog finds in the file. Pages freed
// by a compaction and reused by later writes stay mapped too. So the
// process's VmRSS (its RssFile part) grows toward the size of the file,
// which bbolt never shrinks: in the bench, several GB after a few minutes
// at 256 clients, which is what ps, top and RSS-based limits see, although
// the pages belong to the kernel's page cache.
//
// BoltStore therefore drops the mapping's resident pages (madvise
// MADV_DONTNEED; bolt_resident_linux.go) once the store has written,
// deleted or read Options.ResidentTrimBytes of log data in the file since
// the last time. That bounds the part of the file resident in the process
// to about that much plus the few pages each transaction walks. It is safe
// for a shared file mapping: the data stays in the page cache and on disk,
// and the next read faults the page back in (a minor fault). The trim runs
// inside a read transaction, which holds bbolt's mmap lock, so the mapping
// cannot be replaced while it is advised; it is never called with a
// transaction of the store open on the same goroutine (a waiting remap
// would deadlock the nested read transaction).

// DefaultResidentTrimBytes is Options.ResidentTrimBytes' default.
const DefaultResidentTrimBytes = 16 << 20

// residentTrim counts the log bytes moved through the mapping since the
// last trim.
type residentTrim struct {
	// every is the threshold; <= 0: never trim. Immutable.
	every int64
	// touched is the bytes written, deleted or read since the last trim.
	touched atomic.Int64
	// mu makes trims one at a time; a trim asked for while one runs is
	// dropped (the running one resets touched).
	mu sync.Mutex
	// trims counts the trims done, failed the ones that could not find the
	// mapping or advise it (trimming then stops: off).
	trims  atomic.Int64
	failed atomic.Int64
	off    atomic.Bool
}

// residentTrimEvery is residentTrim.every for opts.
func residentTrimEvery(opts Options) int64 {
	every := opts.ResidentTrimBytes
	if every == 0 {
		every = DefaultResidentTrimBytes
	}
	if !residentTrimSupported || opts.BoltOptions != nil && opts.BoltOptions.Mlock {
		// NB: mlocked pages cannot be dropped (EINVAL); the operator
		// asked for them to stay.
		every = -1
	}
	return every
}

// noteRead counts n bytes read from the file. It never trims: the caller
// may hold a read transaction (see above); the next write trims.
func (s *BoltStore) noteRead(n int) {
	if s.rt.every > 0 {
		s.rt.touched.Add(int64(n))
	}
}

// noteWritten counts n bytes written to or deleted from the file by a
// transaction that has ended, and trims if the threshold is reached. The
// caller holds no transaction of the store.
func (s *BoltStore) noteWritten(n int) {
	if s.rt.every <= 0 {
		return
	}
	if s.rt.touched.Add(int64(n)) >= s.rt.every {
		s.trimResident()
	}
}

// trimResident drops the resident pages of bbolt's mapping. Errors are
// logged once and turn trimming off: they change nothing in the file.
func (s *BoltStore) trimResident() {
	if s.rt.off.Load() || !s.rt.mu.TryLock() {
		return
	}
	defer s.rt.mu.Unlock()
	s.rt.touched.Store(0)
	tx, err := s.db.Begin(false)
	if err != nil {
		return // closed
	}
	defer func() { _ = tx.Rollback() }()
	// NB: with tx open, bbolt cannot remap (mmaplock is read-held), so the
	// address stays bbolt's mapping until dropMapped returns.
	if err := dropMapped(s.db.Info().Data, s.path); err != nil {
		s.rt.failed.Add(1)
		s.rt.off.Store(true)
		s.logger.Warn("cannot release the file's resident mapped pages; VmRSS will include the pages bbolt has read",
			"path", s.path, "error", err)
		return
	}
	s.rt.trims.Add(1)
}
