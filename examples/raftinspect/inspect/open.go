package inspect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/logstore"
	"github.com/pontoon-raft/raft/snapshot"
)

// errDamaged is wrapped by every error that reports damage in the data
// directory (exit code 1).
var errDamaged = errors.New("damaged")

// errInUse reports a store locked by another process.
var errInUse = errors.New("is in use by another process (a running node?): stop it first, or inspect a copy")

// dataDir names the files of one node.
type dataDir struct {
	dir      string
	db       string // the bbolt file
	snapBase string // the snapshot store's base (snapshots in snapBase/snapshots)
	// seg, if not empty, is the directory of a logstore.SegmentStore, the
	// log store in place of db (see findSegmentStore).
	seg string
}

// logStore is what inspecting needs of a log store: BoltStore or
// SegmentStore, opened read-only.
type logStore interface {
	FirstIndex() (uint64, error)
	LastIndex() (uint64, error)
	GetLog(index uint64, log *raft.Log) error
	Get(key []byte) ([]byte, error)
	GetUint64(key []byte) (uint64, error)
	Close() error
}

// segStateFile marks a SegmentStore's directory.
const segStateFile = "segments.state"

// findSegmentStore returns the SegmentStore directory d's log store is in,
// or "": -db naming such a directory, or, without -db and with no raft.db in
// the data directory, the data directory itself or its log/ (where the
// kvstore example keeps it with -log-store segment).
func findSegmentStore(dir, db string, dbGiven bool) string {
	isSeg := func(p string) bool {
		_, err := os.Stat(filepath.Join(p, segStateFile))
		return err == nil
	}
	if dbGiven {
		if isSeg(db) {
			return db
		}
		return ""
	}
	if _, err := os.Stat(db); err == nil {
		return ""
	}
	for _, p := range []string{dir, filepath.Join(dir, "log")} {
		if isSeg(p) {
			return p
		}
	}
	return ""
}

// errNoJournal is checkpoint's answer for a SegmentStore.
var errNoJournal = errors.New("a SegmentStore has no journal and no raft.db to fold one into: nothing to checkpoint")

// journalFiles returns the journal files next to the store that exist.
func (d dataDir) journalFiles() []string {
	var out []string
	for _, p := range []string{d.db + ".journal.0", d.db + ".journal.1"} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// openStore opens the log store, read-only unless write. A crashed node's
// journal is replayed: read-only, into memory; read-write without a
// journal, into raft.db, and the journal is removed at Close. verifyAll
// decodes every record of raft.db at open.
func (d dataDir) openStore(write, verifyAll bool) (logStore, error) {
	if d.seg != "" {
		return d.openSegmentStore(write)
	}
	s, err := d.openBoltStore(write, verifyAll)
	if err != nil {
		return nil, err // not a nil *BoltStore in a non-nil interface
	}
	return s, nil
}

// openSegmentStore opens d.seg read-only (its open reads and checks every
// record, so verifyAll is implied).
func (d dataDir) openSegmentStore(write bool) (logStore, error) {
	if write {
		return nil, errNoJournal
	}
	s, err := logstore.NewSegmentStore(logstore.SegmentOptions{Dir: d.seg, ReadOnly: true})
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%s %w", d.seg, errInUse)
	case errors.Is(err, raft.ErrCorrupt):
		return nil, fmt.Errorf("%w: %w", errDamaged, err)
	}
	return nil, err
}

// openBoltStore is openStore for raft.db.
func (d dataDir) openBoltStore(write, verifyAll bool) (*logstore.BoltStore, error) {
	st, err := os.Stat(d.db)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s: no log store here (use -db to name it)", d.db)
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a log store", d.db)
	}
	opts := logstore.Options{
		Path:         d.db,
		NoJournal:    write,
		VerifyOnOpen: verifyAll,
		BoltOptions:  &bbolt.Options{ReadOnly: !write, Timeout: openTimeout, FreelistType: bbolt.FreelistMapType},
		Logger:       hclog.New(&hclog.LoggerOptions{Name: "raftinspect", Output: os.Stderr, Level: hclog.Warn}),
	}
	s, err := logstore.New(opts)
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%s %w", filepath.Base(d.db), errInUse)
	case errors.Is(err, raft.ErrCorrupt):
		return nil, fmt.Errorf("%w: %w", errDamaged, err)
	}
	return nil, err
}

// boltLastIndex returns the last index in raft.db's own "logs" bucket,
// without the journal: what a raft-boltdb reader would see. 0 if empty.
func (d dataDir) boltLastIndex() (uint64, error) {
	db, err := bbolt.Open(d.db, 0o600, &bbolt.Options{ReadOnly: true, Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return 0, fmt.Errorf("%s %w", filepath.Base(d.db), errInUse)
		}
		return 0, err
	}
	defer db.Close()
	var last uint64
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("logs"))
		if b == nil {
			return nil
		}
		if k, _ := b.Cursor().Last(); len(k) == 8 {
			last = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return last, err
}

// snapshotDir returns the directory holding the snapshots, and whether it
// exists.
func (d dataDir) snapshotDir() (string, bool) {
	p := filepath.Join(d.snapBase, "snapshots")
	st, err := os.Stat(p)
	return p, err == nil && st.IsDir()
}

// openSnapshots opens the snapshot store if its directory exists (nil, nil
// otherwise: opening would create it). Warnings about skipped snapshots go
// to warn.
func (d dataDir) openSnapshots(warn io.Writer) (*snapshot.FileSnapshotStore, error) {
	if _, ok := d.snapshotDir(); !ok {
		return nil, nil
	}
	return snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{
		Base:     d.snapBase,
		Retain:   1 << 30, // List everything
		Logger:   hclog.New(&hclog.LoggerOptions{Name: "snapshots", Output: warn, Level: hclog.Warn}),
		ReadOnly: true, // nothing is written, not even a permission probe
	})
}
