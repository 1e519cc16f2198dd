package logstore

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	raft "github.com/pontoon-raft/raft"
	"go.etcd.io/bbolt"
)

// This file binds the journal to its bbolt file. While a journal is set
// up, the bbolt file holds a bucket of Pontoon's own, bucketPontoon (raft-
// boltdb reads only "logs" and "conf", and a cleanly closed file has no
// such bucket, so it stays exactly raft-boltdb's), with two keys:
//
//	"journal": version (1) u8, ready u8, id u64, file size u64 (big-endian)
//	"stamp":   txid u64, journal generation u64, journal offset u64
//
// "journal" says that a journal with this id and file size is in use.
// ready 0 means it is being set up or taken down: nothing was acknowledged
// through the files, whatever they hold, so they are ignored. ready 1 means
// the files may hold acknowledged entries that bbolt lacks: both must be
// there, of that size, with headers of that id, and undamaged.
//
// "stamp" is written by every bbolt write transaction of the store
// (stampTx), with the transaction's own id and the point the journal had
// reached. Any other writer (raft-boltdb, hashicorp/raft) advances bbolt's
// txid without updating it, so at open a txid other than the stamp's means
// the file was changed by another program, and the journal is not
// replayed onto it. The journal offset is a lower bound of where the
// records of that generation must reach after a crash.
//
// The order of writes keeps every crash state recognisable:
//
//	set up:    "journal" ready 0 (new id) → create or reuse the files, give
//	           both a header of the new id → "journal" ready 1
//	take down: flush pending entries → "journal" ready 0 → remove the
//	           files, fsync the directory → delete the bucket
//
// A journal file without any record in raft.db is therefore never
// Pontoon's own doing (a directory assembled from different stores, an
// earlier format, or raft.db replaced): if it holds records, the open is
// refused.

var (
	bucketPontoon = []byte("pontoon")
	keyJournal    = []byte("journal")
	keyStamp      = []byte("stamp")
)

const journalStateVersion = 1

// journalState is the "journal" record of bucketPontoon.
type journalState struct {
	ready bool
	id    uint64
	size  int64
}

func (st journalState) encode() []byte {
	b := []byte{journalStateVersion, 0}
	if st.ready {
		b[1] = 1
	}
	b = binary.BigEndian.AppendUint64(b, st.id)
	return binary.BigEndian.AppendUint64(b, uint64(st.size))
}

// journalStamp is the "stamp" record of bucketPontoon.
type journalStamp struct {
	txid uint64
	gen  uint64
	off  int64
}

// openState is what the bbolt file says about its journal at open, read
// before anything is written to it.
type openState struct {
	// has reports a "journal" record; st is it.
	has bool
	st  journalState
	// stamp is the last stamp (zero if none).
	stamp journalStamp
	// txid is bbolt's newest transaction.
	txid uint64
}

// readOpenState reads the journal record, the stamp and bbolt's txid.
func (s *BoltStore) readOpenState() (ost openState, err error) {
	defer guardFor(s.path, "read journal state", &err)()
	err = s.db.View(func(tx *bbolt.Tx) error {
		ost.txid = uint64(tx.ID())
		b := tx.Bucket(bucketPontoon)
		if b == nil {
			return nil
		}
		corrupt := func(what string, v []byte) error {
			return fmt.Errorf("%w: log store %s: bucket %q: %s record of %d bytes (% x)", raft.ErrCorrupt, s.path, bucketPontoon, what, len(v), v)
		}
		v := b.Get(keyJournal)
		if v == nil {
			return nil
		}
		if len(v) != 18 || v[0] != journalStateVersion || v[1] > 1 || int64(binary.BigEndian.Uint64(v[10:])) < 0 {
			return corrupt("journal", v)
		}
		ost.has = true
		ost.st = journalState{ready: v[1] == 1, id: binary.BigEndian.Uint64(v[2:]), size: int64(binary.BigEndian.Uint64(v[10:]))}
		if v := b.Get(keyStamp); v != nil {
			if len(v) != 24 {
				return corrupt("stamp", v)
			}
			ost.stamp = journalStamp{txid: binary.BigEndian.Uint64(v), gen: binary.BigEndian.Uint64(v[8:]), off: int64(binary.BigEndian.Uint64(v[16:]))}
		}
		return nil
	})
	if err != nil && !errors.Is(err, raft.ErrCorrupt) {
		err = fmt.Errorf("log store %s: read journal state: %w", s.path, err)
	}
	return ost, err
}

// stampTx records tx's id and the point the journal has reached in
// bucketPontoon, if the file has one. Every write transaction of the store
// calls it before committing.
func (s *BoltStore) stampTx(tx *bbolt.Tx) error {
	b := tx.Bucket(bucketPontoon)
	if b == nil {
		return nil
	}
	var gen uint64
	var off int64
	if j := s.j; j != nil {
		gen, off = j.getReach()
	}
	v := make([]byte, 0, 24)
	v = binary.BigEndian.AppendUint64(v, uint64(tx.ID()))
	v = binary.BigEndian.AppendUint64(v, gen)
	v = binary.BigEndian.AppendUint64(v, uint64(off))
	if err := b.Put(keyStamp, v); err != nil {
		return fmt.Errorf("log store %s: stamp: %w", s.path, err)
	}
	return nil
}

// noteTx records that the store's transaction id committed.
func (s *BoltStore) noteTx(id int) {
	for {
		old := s.lastTx.Load()
		if uint64(id) <= old || s.lastTx.CompareAndSwap(old, uint64(id)) {
			return
		}
	}
}

// commitTx stamps and commits tx, and notes its id.
func (s *BoltStore) commitTx(tx *bbolt.Tx) error {
	if err := s.stampTx(tx); err != nil {
		return err
	}
	id := tx.ID()
	if err := tx.Commit(); err != nil {
		return err
	}
	s.noteTx(id)
	return nil
}

// writeJournalState writes the "journal" record in a transaction of its
// own; st nil deletes bucketPontoon.
func (s *BoltStore) writeJournalState(st *journalState) (err error) {
	defer guardFor(s.path, "write journal state", &err)()
	tx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("log store %s: write journal state: %w", s.path, err)
	}
	defer func() { _ = tx.Rollback() }()
	if st == nil {
		if err := tx.DeleteBucket(bucketPontoon); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
			return fmt.Errorf("log store %s: write journal state: %w", s.path, err)
		}
	} else {
		b, err := tx.CreateBucketIfNotExists(bucketPontoon)
		if err == nil {
			err = b.Put(keyJournal, st.encode())
		}
		if err != nil {
			return fmt.Errorf("log store %s: write journal state: %w", s.path, err)
		}
	}
	if err := s.commitTx(tx); err != nil {
		return fmt.Errorf("log store %s: write journal state: commit: %w", s.path, err)
	}
	return nil
}

// openJournal checks the journal files against what the bbolt file says
// (ost, read before anything was written), replays the entries they hold
// that bbolt lacks, and then sets a new journal up (unless opts.NoJournal
// or readOnly). s.db is open and checked.
func (s *BoltStore) openJournal(opts Options, mode os.FileMode, readOnly bool, ost openState) error {
	paths := journalPaths(s.path)
	s.lastTx.Store(ost.txid)
	lo, ents, gens, found, err := s.recoverJournal(paths, ost)
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
		if found || ost.has {
			return s.retireJournal(paths, ost.st)
		}
		return nil
	}
	size := opts.JournalSize
	if size == 0 {
		size = DefaultJournalSize
	}
	return s.setupJournal(paths, max(size, MinJournalSize), mode, gens, opts.NoSync)
}

// newJournalID returns a random, non-zero journal id.
func newJournalID() (uint64, error) {
	for {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id, nil
		}
	}
}

// setupJournal records a new journal id (not ready), creates or reuses the
// files, gives both a header of the new id, and records the journal ready.
// gens are the generations found in the old files; the new ones follow.
func (s *BoltStore) setupJournal(paths [2]string, size int64, mode os.FileMode, gens [2]uint64, noSync bool) error {
	id, err := newJournalID()
	if err != nil {
		return fmt.Errorf("log store %s: journal id: %w", s.path, err)
	}
	st := journalState{id: id, size: size}
	if err := s.writeJournalState(&st); err != nil {
		return err
	}
	j := &journal{paths: paths, size: size, noSync: noSync, gens: gens, id: id}
	for i, p := range paths {
		if j.files[i], err = openJournalFile(p, size, mode); err != nil {
			j.closeFiles()
			return fmt.Errorf("log store %s: %w", s.path, err)
		}
	}
	if err := j.reset(s.lastTx.Load()); err != nil {
		j.closeFiles()
		return fmt.Errorf("log store %s: %w", s.path, err)
	}
	st.ready = true
	if err := s.writeJournalState(&st); err != nil {
		j.closeFiles()
		return err
	}
	s.j = j
	return nil
}

// retireJournal takes the journal down once every entry it holds is in
// bbolt: the record is marked not ready, the files removed (and the
// directory fsynced), and bucketPontoon deleted, so the bbolt file is
// raft-boltdb's again.
func (s *BoltStore) retireJournal(paths [2]string, st journalState) error {
	st.ready = false
	if err := s.writeJournalState(&st); err != nil {
		return err
	}
	if err := removeJournal(paths); err != nil {
		return fmt.Errorf("log store %s: %w", s.path, err)
	}
	return s.writeJournalState(nil)
}

// closeJournalLocked writes the pending entries into bbolt, closes the
// journal files and takes the journal down. wmu is held.
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
	if err := s.retireJournal(j.paths, journalState{id: j.id, size: j.size}); err != nil {
		return fmt.Errorf("log store %s: close: %w", s.path, err)
	}
	return nil
}

// DiscardJournal removes the journal of the store at path and its record
// in the bbolt file, leaving the bbolt file's log as it is. The entries
// only the journal held are lost: use it only to keep a bbolt file that
// another program changed after Pontoon crashed (New refuses to replay a
// journal onto it), when that file is known to be the one to keep. The
// store must not be open.
func DiscardJournal(path string) (err error) {
	if err := checkBoltFile(path); err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("log store %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0, &bbolt.Options{Timeout: DefaultOpenTimeout})
	if err != nil {
		return fmt.Errorf("log store %s: open: %w", path, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("log store %s: close: %w", path, cerr)
		}
	}()
	s := &BoltStore{path: path, db: db}
	ost, err := s.readOpenState()
	if err != nil {
		return err
	}
	return s.retireJournal(journalPaths(path), ost.st)
}
