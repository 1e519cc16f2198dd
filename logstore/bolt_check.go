package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	raft "github.com/pontoon-raft/raft"
)

// This file guards BoltStore against corrupt files. bbolt trusts its file:
// a truncated file makes it touch mmapped memory past the end (SIGBUS), and
// garbage pages make it index out of range or fail assertions with a panic.
// Two defences:
//
//   - checkBoltFile reads the two meta pages before bbolt opens the file and
//     refuses a file whose valid meta page points past the end of the file,
//     or that has no valid meta page at all.
//   - guard turns a panic (and, through debug.SetPanicOnFault, a memory
//     fault on the mmapped file) during a store operation into an error
//     wrapping raft.ErrCorrupt.

// bbolt's on-disk meta page (format version 2), in native byte order:
//
//	page header: id u64, flags u16, count u16, overflow u32   (16 bytes)
//	meta:        magic u32, version u32, pageSize u32, flags u32,
//	             root bucket {root pgid u64, sequence u64},
//	             freelist pgid u64, pgid (high-water mark) u64, txid u64,
//	             checksum u64 (FNV-64a of the meta bytes before it)
const (
	boltPageHeaderSize = 16
	boltMetaSize       = 64
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	boltMetaPageFlag   = 0x04
	boltNoFreelist     = ^uint64(0)
)

// boltMeta is the part of a meta page checkBoltFile needs.
type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// parseBoltMeta decodes and validates the meta page at the start of p.
func parseBoltMeta(p []byte) (boltMeta, bool) {
	if len(p) < boltPageHeaderSize+boltMetaSize {
		return boltMeta{}, false
	}
	ne := binary.NativeEndian
	if ne.Uint16(p[8:])&boltMetaPageFlag == 0 {
		return boltMeta{}, false
	}
	m := p[boltPageHeaderSize : boltPageHeaderSize+boltMetaSize]
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, true
}

// checkBoltFile checks that path, if it exists, looks like a complete bbolt
// file whose newest transaction is the one bbolt will open. A missing file
// is fine (New creates it); an empty one is refused: New never leaves one
// (it creates a file whole, under a temporary name), so an empty file is a
// store whose contents were lost, and opening it as a new store would
// forget the node's term and vote. Errors about the content wrap
// raft.ErrCorrupt and name the file.
//
// bbolt keeps two meta pages and opens the one with the newest valid
// transaction; a commit writes the page its txid's parity names, so the two
// always hold consecutive transactions, each on its own page. If the newest
// is damaged, bbolt silently opens the previous transaction, losing the
// last commit. So a meta page that does not validate, or that holds a
// transaction of the wrong parity or not consecutive with the other's, is
// refused. (A meta page is written in the first bytes of one page, within
// one disk sector, so a crash does not tear it.)
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("log store %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("log store %s: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("log store %s: is a directory", path)
	}
	size := st.Size()
	corrupt := func(format string, args ...interface{}) error {
		return fmt.Errorf("%w: log store %s: %s", raft.ErrCorrupt, path, fmt.Sprintf(format, args...))
	}
	if size == 0 {
		return corrupt("the file is empty (0 bytes): its log, term and vote are lost. A failed create leaves no " +
			"file, so this is not a new store; restore the file, or remove it only if this node never stored anything " +
			"(or wipe the node's data and rejoin it)")
	}
	readMeta := func(off int64) (boltMeta, bool) {
		buf := make([]byte, boltPageHeaderSize+boltMetaSize)
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			return boltMeta{}, false
		}
		return parseBoltMeta(buf)
	}
	// The first meta page is at offset 0 and tells the page size, which
	// places the second. If the first is damaged, look for the second at
	// the page sizes bbolt supports.
	var metas []boltMeta
	m0, ok0 := readMeta(0)
	if ok0 {
		metas = append(metas, m0)
		if m1, ok := readMeta(int64(m0.pageSize)); ok && m1.pageSize == m0.pageSize {
			metas = append(metas, m1)
		} else {
			return corrupt("meta page 1 (offset %d) is damaged: bbolt would silently open transaction %d of meta page 0, "+
				"which may not be the newest; refusing rather than lose the last commit", m0.pageSize, m0.txid)
		}
	} else {
		for ps := int64(1024); ps <= 64*1024; ps *= 2 {
			if m1, ok := readMeta(ps); ok && int64(m1.pageSize) == ps {
				return corrupt("meta page 0 is damaged: bbolt would silently open transaction %d of meta page 1, "+
					"which may not be the newest; refusing rather than lose the last commit", m1.txid)
			}
		}
		return corrupt("not a bbolt file, or both meta pages are damaged (%d bytes)", size)
	}
	for i, m := range metas {
		if m.txid%2 != uint64(i) {
			return corrupt("meta page %d holds transaction %d, which bbolt writes to meta page %d: a stale or misplaced copy", i, m.txid, m.txid%2)
		}
	}
	if d := int64(m0.txid - metas[1].txid); d != 1 && d != -1 {
		return corrupt("the meta pages hold transactions %d and %d, which are not consecutive: one of them is stale "+
			"(bbolt would open transaction %d, which may not be the newest)", m0.txid, metas[1].txid, max(m0.txid, metas[1].txid))
	}
	best := metas[0]
	for _, m := range metas[1:] {
		if m.txid > best.txid {
			best = m
		}
	}
	ps := uint64(best.pageSize)
	if ps < 512 || ps > 1<<20 || ps&(ps-1) != 0 {
		return corrupt("implausible page size %d", ps)
	}
	if best.pgid < 2 || best.pgid > uint64(size)/ps {
		return corrupt("truncated: %d bytes, but the meta page (txid %d) covers %d pages of %d bytes",
			size, best.txid, best.pgid, ps)
	}
	if best.root < 2 || best.root >= best.pgid || (best.freelist != boltNoFreelist && (best.freelist < 2 || best.freelist >= best.pgid)) {
		return corrupt("meta page (txid %d) points outside the file", best.txid)
	}
	return nil
}

// guardFor enables panic-on-fault for the calling goroutine and returns the
// function to defer, with a pointer to the caller's named error, that
// restores it and turns a panic into an error wrapping raft.ErrCorrupt that
// names the file and the operation:
//
//	defer guardFor(s.path, "get log", &err)()
//
// NB: bbolt's own deferred rollbacks run before this (defers run last
// registered first), so its locks are released when the error is returned.
func guardFor(path, op string, errp *error) func() {
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			*errp = fmt.Errorf("%w: log store %s: %s: bbolt panicked reading the file: %v", raft.ErrCorrupt, path, op, r)
		}
	}
}
