package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	raft "github.com/pontoon-raft/raft"
	"go.etcd.io/bbolt"
)

// Bucket names, as raft-boltdb/v2.
var (
	bucketLogs = []byte("logs")
	bucketConf = []byte("conf")
)

const (
	// DefaultFileMode is the mode of a newly created store file.
	DefaultFileMode os.FileMode = 0o600

	// DefaultOpenTimeout bounds the wait for the file lock when Options has
	// no BoltOptions, so a second process opening the same file fails with
	// an error instead of hanging (bbolt's own default waits forever).
	DefaultOpenTimeout = time.Second

	// maxRetainedBuffer bounds the encode buffer kept between StoreLogs
	// calls; a larger one (a huge batch) is dropped after use.
	maxRetainedBuffer = 4 << 20

	// appendFillPercent is the bucket fill used by StoreLogs for batches
	// that append past the last key (bbolt's maximum).
	appendFillPercent = 1.0
)

// Options configures New.
type Options struct {
	// Path is the file to open or create. Required.
	Path string

	// FileMode is the mode of a newly created file; 0 means
	// DefaultFileMode (0600, as raft-boltdb).
	FileMode os.FileMode

	// BoltOptions are passed to bbolt.Open. nil means bbolt's defaults with
	// Timeout set to DefaultOpenTimeout and FreelistType to FreelistType
	// below. With ReadOnly set, missing buckets are not created and every
	// write fails.
	BoltOptions *bbolt.Options

	// NoSync skips fsync on commit. It is for tests only: a crash of the
	// machine (not just the process) may lose or corrupt acknowledged data.
	NoSync bool

	// FreelistType chooses bbolt's in-memory freelist; "" means
	// bbolt.FreelistMapType, which stays fast as the freelist grows after
	// large deletes. It changes nothing on disk. Ignored if BoltOptions is
	// set (set BoltOptions.FreelistType there).
	FreelistType bbolt.FreelistType

	// VerifyOnOpen reads every record at open and decodes every log entry,
	// so a damaged page or value fails the open (with an error wrapping
	// raft.ErrCorrupt) rather than a later read. It costs a full read of
	// the file. Without it, open checks the meta pages and the first and
	// last entries only.
	VerifyOnOpen bool

	// Logger receives warnings; nil means a logger named "boltstore" on
	// stderr.
	Logger hclog.Logger

	// NoJournal turns the journal off: every write is a bbolt transaction
	// (two fsyncs and its page writes), and the bbolt file is complete and
	// readable by raft-boltdb/v2 at every instant, including right after a
	// crash. Use it for a data directory that another program must be able
	// to read without opening it through BoltStore first. An existing
	// journal left by a crash is still replayed at open, then removed.
	//
	// With the journal (the default), StoreLogs writes a batch as one
	// record in a preallocated file next to the store, with one write and
	// one fdatasync, and the bbolt file is brought up to date in the
	// background. After a crash, the newest acknowledged entries may be in
	// the journal only; New replays them into bbolt. After Close the
	// journal files are gone and the directory is exactly raft-boltdb's.
	// A bbolt file created with the journal on has 64 KiB pages (unless
	// BoltOptions is set); raft-boltdb reads it like any bbolt file.
	NoJournal bool

	// Metrics receives the store's metrics (raft-boltdb/v2's raft.boltdb.*
	// keys and the journal's; see docs/metrics.md). nil means go-metrics'
	// global instance, as raft-boltdb.
	Metrics *metrics.Metrics

	// ResidentTrimBytes bounds how much of the file bbolt's memory mapping
	// keeps resident in the process (VmRSS): once the store has written,
	// deleted or read this many bytes of log entries in the file since the
	// last time, it drops the mapping's resident pages (they stay in the
	// kernel's page cache; later reads fault them back in). Without it the
	// resident part grows toward the file's size. 0 means
	// DefaultResidentTrimBytes (16 MiB); negative never trims. Linux only
	// (ignored elsewhere); ignored with BoltOptions.Mlock. See
	// bolt_resident.go.
	ResidentTrimBytes int64

	// JournalSize is the size in bytes of each of the two journal files;
	// 0 means DefaultJournalSize (8 MiB), smaller values than
	// MinJournalSize are raised to it. A batch larger than a journal file
	// is written to bbolt directly.
	JournalSize int64
}

// BoltStore is the default LogStore and StableStore: a bbolt file with the
// layout of raft-boltdb/v2, so a data directory written by either opens in
// the other.
//
// Layout: bucket "logs" maps the 8-byte big-endian index to the msgpack
// encoding of the raft.Log (see logcodec.go); bucket "conf" maps a raw key to
// a raw value, with SetUint64 values as 8-byte big-endian.
//
// Every write is durable before it returns (unless Options.NoSync): an
// appending StoreLogs as one fdatasynced journal record (see
// bolt_journal.go), every other write as one fsynced bbolt transaction.
// BoltStore is safe for concurrent use. It reports IsMonotonic() == true;
// see IsMonotonic.
//
// If a journal write or fdatasync fails, the end of the journal is
// unknown, so every later StoreLogs and DeleteRange fails (with an error
// wrapping the first failure) while reads keep working; Close still writes
// the acknowledged entries into bbolt. Reopen the store to write again.
type BoltStore struct {
	// path names the file in errors. Immutable.
	path string
	// db is the open bbolt handle. Immutable; bbolt makes it safe for
	// concurrent use and fails every call after Close.
	db      *bbolt.DB
	logger  hclog.Logger
	metrics metricSink

	// wmu serializes StoreLogs and the journal part of DeleteRange, so the
	// encode buffers can be reused and the journal has one writer. A
	// DeleteRange that leaves the journal alone (compaction) releases it
	// before its bbolt transaction, and the checkpointer never takes it:
	// bbolt orders their transactions with the others.
	wmu struct {
		sync.Mutex
		// vals holds the encoded values of the batch being written, ends
		// the end offset of each in vals, keys the 8-byte keys back to
		// back, valv the values as slices of vals. bbolt references them
		// until the transaction ends.
		vals []byte
		ends []int
		keys []byte
		valv [][]byte
	}

	// j is the journal; nil with Options.NoJournal or a read-only store.
	// Its fields are guarded by wmu.
	j *journal

	// pmu guards the pending entries: entries acknowledged through the
	// journal and not yet known to be in bbolt.
	//
	// Invariants: ents[i] is the encoding (appendLog) of entry lo+i, and
	// is never modified; the indexes are contiguous; when ents is not
	// empty, lo is bbolt's last index + 1 or less (a checkpoint that has
	// committed but not yet dropped its entries leaves them in both), and
	// every index of ents is greater than every index in bbolt not also in
	// ents. Entries are added only by StoreLogs (wmu held) and dropped only
	// after the bbolt transaction holding them committed.
	pmu struct {
		sync.RWMutex
		lo   uint64
		ents [][]byte
	}

	// lastTx is the id of the store's newest committed bbolt transaction
	// (noteTx): journal headers and records carry it, so that an open can
	// tell a bbolt file that lost transactions.
	lastTx atomic.Uint64

	// rt releases the mapping's resident pages (bolt_resident.go).
	rt residentTrim

	closeOnce sync.Once
	closeErr  error
}

// NewBoltStore opens or creates the store at path with default options.
func NewBoltStore(path string) (*BoltStore, error) {
	return New(Options{Path: path})
}

// New opens or creates a store. A file that is not a complete bbolt file,
// or whose buckets or boundary entries do not decode, or whose journal is
// damaged, missing or not its own (see doc.go), is refused with an error
// wrapping raft.ErrCorrupt that names the file; nothing is written to it.
// A new file is created whole under a temporary name and then renamed, so
// a failed open leaves no file behind; a temporary file that a crash left
// is removed by the next open for writing (removeStaleTemps).
func New(opts Options) (_ *BoltStore, err error) {
	if opts.Path == "" {
		return nil, errors.New("log store: empty path")
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "boltstore"})
	}
	mode := opts.FileMode
	if mode == 0 {
		mode = DefaultFileMode
	}
	bopts := opts.BoltOptions
	if bopts == nil {
		o := *bbolt.DefaultOptions
		o.Timeout = DefaultOpenTimeout
		o.FreelistType = opts.FreelistType
		if o.FreelistType == "" {
			o.FreelistType = bbolt.FreelistMapType
		}
		if !opts.NoJournal {
			// NB: bbolt writes each dirty page with its own pwrite, and
			// the journal's checkpoints write many pages at once: larger
			// pages write the same bytes in fewer calls (in the bench,
			// 10-20% more throughput than 4 KiB pages). The page size is
			// recorded in the file (bbolt ignores this for an existing
			// file), and raft-boltdb opens such files.
			o.PageSize = journalPageSize
		}
		bopts = &o
	}
	if _, err := os.Lstat(opts.Path); os.IsNotExist(err) && !bopts.ReadOnly {
		for _, p := range journalPaths(opts.Path) {
			if _, err := os.Lstat(p); err == nil {
				return nil, fmt.Errorf("%w: log store %s: the file is missing, but its journal %s exists: "+
					"the store's log and state are gone; restore the file, or wipe the node's data and rejoin it",
					raft.ErrCorrupt, opts.Path, p)
			}
		}
		if err := createBoltFile(opts.Path, mode, bopts); err != nil {
			return nil, err
		}
	}
	if err := checkBoltFile(opts.Path); err != nil {
		return nil, err
	}

	s := &BoltStore{path: opts.Path, logger: logger, metrics: metricSink{opts.Metrics}}
	s.rt.every = residentTrimEvery(opts)
	if err := func() (err error) {
		defer guardFor(s.path, "open", &err)()
		s.db, err = bbolt.Open(opts.Path, mode, bopts)
		return err
	}(); err != nil {
		return nil, openError(opts.Path, bopts, err)
	}
	s.db.NoSync = opts.NoSync

	// NB: read before anything is written: the stamp must be compared
	// with the file as the last writer left it.
	ost, err := s.readOpenState()
	if err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if !bopts.ReadOnly {
		if err := s.createBuckets(ost.has); err != nil {
			_ = s.db.Close()
			return nil, err
		}
	}
	check := s.checkBoundaries
	if opts.VerifyOnOpen {
		check = s.verifyAll
	}
	if err := check(); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if err := s.openJournal(opts, mode, bopts.ReadOnly, ost); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if !bopts.ReadOnly {
		// A crash while creating the file left its temporary copy.
		removeStaleTemps(opts.Path, logger)
	}
	return s, nil
}

// createBuckets creates the two buckets if they are missing, in one
// transaction that commits only if something was created. A file that
// records a journal (journal_state.go) always has them: if one is missing,
// the file is refused rather than written (the write would hide another
// writer's change from the next open).
func (s *BoltStore) createBuckets(hasJournal bool) (err error) {
	defer guardFor(s.path, "create buckets", &err)()
	var missing bool
	if err := s.db.View(func(tx *bbolt.Tx) error {
		missing = tx.Bucket(bucketLogs) == nil || tx.Bucket(bucketConf) == nil
		return nil
	}); err != nil {
		return fmt.Errorf("log store %s: %w", s.path, err)
	}
	if !missing {
		return nil
	}
	if hasJournal {
		return fmt.Errorf("%w: log store %s: bucket %q or %q is missing, but the file records a journal in use",
			raft.ErrCorrupt, s.path, bucketLogs, bucketConf)
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("log store %s: creating buckets: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, name := range [][]byte{bucketLogs, bucketConf} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("log store %s: creating buckets: %w", s.path, err)
		}
	}
	if err := s.commitTx(tx); err != nil {
		return fmt.Errorf("log store %s: creating buckets: %w", s.path, err)
	}
	return nil
}

// checkBoundaries reads the first and last log entries, so a file whose
// pages or values are damaged there fails at open rather than later.
func (s *BoltStore) checkBoundaries() error {
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil {
		return err
	}
	if first == 0 {
		return nil
	}
	var l raft.Log
	for _, idx := range []uint64{first, last} {
		if err := s.GetLog(idx, &l); err != nil {
			return err
		}
	}
	return nil
}

// verifyAll walks both buckets and decodes every log entry.
func (s *BoltStore) verifyAll() (err error) {
	defer guardFor(s.path, "verify", &err)()
	return s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketConf); b != nil {
			if err := b.ForEach(func(k, v []byte) error { return nil }); err != nil {
				return fmt.Errorf("%w: log store %s: bucket %q: %v", raft.ErrCorrupt, s.path, bucketConf, err)
			}
		}
		b := tx.Bucket(bucketLogs)
		if b == nil {
			return nil
		}
		var l raft.Log
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("%w: log store %s: log key of %d bytes", raft.ErrCorrupt, s.path, len(k))
			}
			idx := binary.BigEndian.Uint64(k)
			if v == nil {
				return fmt.Errorf("%w: log store %s: log %d is a bucket", raft.ErrCorrupt, s.path, idx)
			}
			if err := decodeLog(v, &l); err != nil {
				return fmt.Errorf("%w: log store %s: log %d does not decode: %v", raft.ErrCorrupt, s.path, idx, err)
			}
			if l.Index != idx {
				return fmt.Errorf("%w: log store %s: log %d holds entry %d", raft.ErrCorrupt, s.path, idx, l.Index)
			}
			return nil
		})
	})
}

// Path returns the file the store was opened with.
func (s *BoltStore) Path() string { return s.path }

// IsMonotonic implements MonotonicLogStore and reports true.
//
// Unlike raft-boltdb/v2 (which does not implement the interface), BoltStore
// asks the engine to keep its indexes contiguous: when a snapshot is
// installed the engine deletes the whole log instead of keeping a suffix
// after a gap. The store itself accepts gaps (StoreLogs and DeleteRange
// work on any indexes); reporting true only chooses the simpler, always
// correct compaction, and Pontoon's engine never creates gaps otherwise.
func (s *BoltStore) IsMonotonic() bool { return true }

// Stats returns bbolt's statistics.
func (s *BoltStore) Stats() bbolt.Stats { return s.db.Stats() }

// FreePages returns how many pages of the file are free or pending (freed
// by a commit still visible to a reader). bbolt writes this list on every
// commit, so its length is part of every write's cost.
func (s *BoltStore) FreePages() int {
	st := s.db.Stats()
	return st.FreePageN + st.PendingPageN
}

// Sync fsyncs the file and the active journal file. It is needed only with
// Options.NoSync.
func (s *BoltStore) Sync() error {
	if s.j != nil {
		s.wmu.Lock()
		err := s.j.syncActive()
		s.wmu.Unlock()
		if err != nil {
			return fmt.Errorf("log store %s: sync: %w", s.path, err)
		}
	}
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("log store %s: sync: %w", s.path, err)
	}
	return nil
}

// Close closes the file. It waits for running transactions and for the
// checkpointer, writes every pending entry into bbolt and removes the
// journal files, so a cleanly closed data directory holds the bbolt file
// only, as raft-boltdb's. If that checkpoint fails, the journal files are
// kept (the next open replays them) and Close returns the error. Later
// calls return the first call's result; every other method fails after
// Close.
func (s *BoltStore) Close() error {
	s.closeOnce.Do(func() {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		var errs []error
		if s.j != nil {
			// NB: the journal goes while bbolt's file lock is still held,
			// so it cannot remove the journal of a store another process
			// opened after us.
			errs = append(errs, s.closeJournalLocked())
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("log store %s: close: %w", s.path, err))
		}
		s.pmu.Lock()
		s.pmu.lo, s.pmu.ents = 0, nil
		s.pmu.Unlock()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
