package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// Names inside the store, as hashicorp/raft's.
const (
	snapDir       = "snapshots"
	metaFile      = "meta.json"
	stateFile     = "state.bin"
	tmpSuffix     = ".tmp"
	permTestFile  = "permTest"
	dirMode       = 0o755
	maxNameProbes = 1000
)

// FileOptions configures NewFileSnapshotStoreWithOptions.
type FileOptions struct {
	// Base is the data directory; snapshots live in Base/snapshots.
	Base string
	// Retain is how many snapshots to keep; at least 1.
	Retain int
	// Logger receives progress and warnings; nil means a logger named
	// "snapshot" on stderr.
	Logger hclog.Logger
	// NoSync skips every fsync. For tests only: a machine crash may lose a
	// snapshot that Close reported durable.
	NoSync bool
	// ReadOnly opens an existing <base>/snapshots for reading only (List,
	// Open, Damaged), as a tool inspecting a read-only data directory
	// does: the directory is neither created nor probed for write
	// permission, and Create fails with ErrReadOnly.
	ReadOnly bool
}

// ErrReadOnly is returned by Create on a FileSnapshotStore opened with
// FileOptions.ReadOnly.
var ErrReadOnly = errors.New("snapshot: store opened read-only")

// FileSnapshotStore keeps snapshots as directories on disk, with the layout
// of hashicorp/raft's FileSnapshotStore, so either reads the other's:
//
//	<base>/snapshots/<term>-<index>-<unixMillis>/meta.json
//	<base>/snapshots/<term>-<index>-<unixMillis>/state.bin
//
// A snapshot is written in "<name>.tmp" and renamed when its sink is
// closed, after state.bin, meta.json and the directory are fsynced; the
// parent directory is fsynced after the rename. List and Open never see a
// .tmp directory. Open verifies state.bin's CRC-64/ECMA as the data is read.
//
// It is safe for concurrent use.
type FileSnapshotStore struct {
	// path is <base>/snapshots, retain ≥ 1, noSync as FileOptions.
	// Immutable.
	path     string
	retain   int
	noSync   bool
	readOnly bool
	logger   hclog.Logger

	// reapMu serializes reaping, so two sinks closing at once do not
	// remove directories under each other.
	reapMu sync.Mutex
}

// NewFileSnapshotStore returns a store in base keeping retain snapshots,
// logging to logOutput (stderr if nil).
func NewFileSnapshotStore(base string, retain int, logOutput io.Writer) (*FileSnapshotStore, error) {
	if logOutput == nil {
		logOutput = os.Stderr
	}
	return NewFileSnapshotStoreWithLogger(base, retain, hclog.New(&hclog.LoggerOptions{
		Name:   "snapshot",
		Output: logOutput,
	}))
}

// NewFileSnapshotStoreWithLogger returns a store in base keeping retain
// snapshots, logging to logger.
func NewFileSnapshotStoreWithLogger(base string, retain int, logger hclog.Logger) (*FileSnapshotStore, error) {
	return NewFileSnapshotStoreWithOptions(FileOptions{Base: base, Retain: retain, Logger: logger})
}

// NewFileSnapshotStoreWithOptions returns a store configured by opts. It
// creates <base>/snapshots if needed and checks that a file can be created
// and removed there; with opts.ReadOnly it only checks that the directory
// exists.
func NewFileSnapshotStoreWithOptions(opts FileOptions) (*FileSnapshotStore, error) {
	if opts.Retain < 1 {
		return nil, errors.New("snapshot: must retain at least one snapshot")
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "snapshot"})
	}
	path := filepath.Join(opts.Base, snapDir)
	if opts.ReadOnly {
		st, err := os.Stat(path)
		if err == nil && !st.IsDir() {
			err = fmt.Errorf("not a directory")
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot: path %s not accessible: %w", path, err)
		}
		return &FileSnapshotStore{path: path, retain: opts.Retain, noSync: true, readOnly: true, logger: logger}, nil
	}
	if err := mkdirAllDurable(path, opts.NoSync); err != nil {
		return nil, fmt.Errorf("snapshot: path %s not accessible: %w", path, err)
	}
	s := &FileSnapshotStore{path: path, retain: opts.Retain, noSync: opts.NoSync, logger: logger}
	test := filepath.Join(path, permTestFile)
	f, err := os.Create(test)
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = os.Remove(test)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: permissions test in %s failed: %w", path, err)
	}
	return s, nil
}

// Path returns the directory holding the snapshots (<base>/snapshots).
func (s *FileSnapshotStore) Path() string { return s.path }

// Create implements SnapshotStore. Only version 1 is accepted. The sink
// must be closed (to keep the snapshot) or cancelled (to drop it).
func (s *FileSnapshotStore) Create(version raft.SnapshotVersion, index, term uint64,
	configuration raft.Configuration, configurationIndex uint64, trans transport.Transport) (raft.SnapshotSink, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if version != 1 {
		return nil, fmt.Errorf("snapshot: unsupported snapshot version %d", version)
	}
	name, dir, err := s.makeTmpDir(term, index)
	if err != nil {
		return nil, err
	}
	s.logger.Info("creating new snapshot", "path", dir)
	meta := fileMeta{SnapshotMeta: raft.SnapshotMeta{
		Version:            version,
		ID:                 name,
		Index:              index,
		Term:               term,
		Peers:              encodePeers(configuration, trans),
		Configuration:      configuration.Clone(),
		ConfigurationIndex: configurationIndex,
	}}
	sink, err := newFileSink(s, dir, meta)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return sink, nil
}

// makeTmpDir creates the .tmp directory of a new snapshot, named
// <term>-<index>-<unixMillis>. If the name is taken (two snapshots in the
// same millisecond) it tries the following milliseconds.
func (s *FileSnapshotStore) makeTmpDir(term, index uint64) (name, dir string, err error) {
	ms := time.Now().UnixMilli()
	for i := int64(0); i < maxNameProbes; i++ {
		name = fmt.Sprintf("%d-%d-%d", term, index, ms+i)
		if _, err := os.Lstat(filepath.Join(s.path, name)); err == nil {
			continue
		}
		dir = filepath.Join(s.path, name+tmpSuffix)
		err := os.Mkdir(dir, dirMode)
		if err == nil {
			return name, dir, nil
		}
		if !os.IsExist(err) {
			return "", "", fmt.Errorf("snapshot: creating %s: %w", dir, err)
		}
	}
	return "", "", fmt.Errorf("snapshot: no free name for term %d index %d in %s", term, index, s.path)
}

// List implements SnapshotStore: at most retain snapshots, newest (highest
// term, then index, then ID) first. Directories being written, with an
// unreadable meta.json or an unsupported version are skipped with a
// warning.
func (s *FileSnapshotStore) List() ([]*raft.SnapshotMeta, error) {
	metas, err := s.scan()
	if err != nil {
		return nil, err
	}
	if len(metas) > s.retain {
		metas = metas[:s.retain]
	}
	out := make([]*raft.SnapshotMeta, len(metas))
	for i, m := range metas {
		out[i] = &m.SnapshotMeta
	}
	return out, nil
}

// scan reads every finished snapshot's meta, sorted newest first.
func (s *FileSnapshotStore) scan() ([]*fileMeta, error) {
	entries, err := os.ReadDir(s.path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: scanning %s: %w", s.path, err)
	}
	var metas []*fileMeta
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, tmpSuffix) {
			s.logger.Warn("found temporary snapshot", "name", name)
			continue
		}
		m, err := s.readMeta(name)
		if err == nil {
			err = checkFinal(m)
		}
		if err != nil {
			s.logger.Warn("skipping snapshot", "name", name, "error", err)
			continue
		}
		metas = append(metas, m)
	}
	sort.Slice(metas, func(i, j int) bool {
		a, b := metas[i], metas[j]
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return metas, nil
}

// readMeta reads and parses <name>/meta.json. The meta's ID must be the
// directory's name. Errors name the file.
func (s *FileSnapshotStore) readMeta(name string) (*fileMeta, error) {
	path := filepath.Join(s.path, name, metaFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot: reading %s: %w", path, err)
	}
	if len(b) > maxMetaSize {
		return nil, fmt.Errorf("%w: snapshot: %s is larger than %d bytes", raft.ErrCorrupt, path, maxMetaSize)
	}
	m, err := parseMeta(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %s: %w", path, err)
	}
	if m.ID != name {
		return nil, fmt.Errorf("%w: snapshot: %s: ID %q does not match the directory", raft.ErrCorrupt, path, m.ID)
	}
	return m, nil
}

// validID reports whether id can name a snapshot directory: a single path
// element that is not a temporary directory.
func validID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, `/\`) &&
		!strings.HasSuffix(id, tmpSuffix) && filepath.Base(id) == id
}

// Open implements SnapshotStore. The returned reader checks the data
// against the size and CRC in meta.json as it is read: on a mismatch, the
// read that reaches the end returns an error wrapping raft.ErrCorrupt that
// names state.bin, never io.EOF.
func (s *FileSnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	if !validID(id) {
		return nil, nil, fmt.Errorf("snapshot: invalid snapshot id %q", id)
	}
	m, err := s.readMeta(id)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFinal(m); err != nil {
		return nil, nil, fmt.Errorf("snapshot: %s: %w", filepath.Join(s.path, id, metaFile), err)
	}
	path := filepath.Join(s.path, id, stateFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	if st.Size() != m.Size {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%w: snapshot: %s is %d bytes, meta.json says %d", raft.ErrCorrupt, path, st.Size(), m.Size)
	}
	return &m.SnapshotMeta, newCRCReader(f, path, m.Size, m.CRC), nil
}

// reap removes the finished snapshots beyond the newest retain distinct
// (term, index) pairs, and every older copy of a kept pair: a snapshot stored
// twice at the same point (an InstallSnapshot retried) holds the same state,
// and must not push the older snapshot kept for fallback out. Damaged or
// unreadable directories are left for an operator.
func (s *FileSnapshotStore) reap() error {
	s.reapMu.Lock()
	defer s.reapMu.Unlock()
	metas, err := s.scan()
	if err != nil {
		return err
	}
	type point struct{ term, index uint64 }
	kept := make(map[point]bool, s.retain)
	var errs []error
	removed := false
	for _, m := range metas { // newest first, so the newest copy is kept
		p := point{m.Term, m.Index}
		if !kept[p] && len(kept) < s.retain {
			kept[p] = true
			continue
		}
		dir := filepath.Join(s.path, m.ID)
		s.logger.Info("reaping snapshot", "path", dir)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("snapshot: reaping %s: %w", dir, err))
		}
		removed = true
	}
	if removed {
		if err := syncDir(s.path, s.noSync); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
