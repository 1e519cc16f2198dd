package crashtest

import (
	"sort"
	"sync"
	"time"
)

// memfs is an in-memory file system that models what survives a power
// failure. Every file and directory has two states: the current one (what
// programs see) and the durable one (what a disk would hold after power
// is cut). fsync or fdatasync of a file makes its data and size durable;
// fsync of a directory makes its entries (names, creations, removals,
// renames into or out of it) durable. Nothing else does: not close, not
// a file's fsync for the name it was created under. powerFail replaces
// every current state by the durable one, as a machine losing power does
// with a strict file system.
//
// The FUSE side (memfs_fuse_test.go) serves it to the node processes; it is
// mounted, and powerFail is called only while it is unmounted, so the
// kernel holds nothing cached across a failure.

const memPage = 4096

// memFile is a file's content: size and 4 KiB pages (nil: zeros). Pages
// are shared between the current and durable states and copied on write.
type memFile struct {
	size  int64
	pages map[int64]*[memPage]byte
}

func (f memFile) clone() memFile {
	c := memFile{size: f.size, pages: make(map[int64]*[memPage]byte, len(f.pages))}
	for k, v := range f.pages {
		c.pages[k] = v
	}
	return c
}

// memNode is a file or a directory.
type memNode struct {
	ino  uint64
	dir  bool
	perm uint32
	// cur and dur: a file's current and durable content.
	cur, dur memFile
	// curEnt and durEnt: a directory's current and durable entries.
	curEnt, durEnt map[string]uint64
	// curLinks and durLinks: how many current and durable entries name
	// this node; open: open handles. A node none refer to is freed.
	curLinks, durLinks, open int
	mtime                    time.Time
}

// memFS holds the nodes; every method takes mu.
type memFS struct {
	mu struct {
		sync.Mutex
		nodes   map[uint64]*memNode
		nextIno uint64
		handles map[uint64]*memHandle
		nextFh  uint64
		// fsyncs and dirFsyncs count durability calls, for the figures.
		fsyncs, dirFsyncs int
	}
}

// memHandle is an open file or directory; a directory's handle keeps the
// listing taken at open.
type memHandle struct {
	ino     uint64
	listing []memDirent
}

type memDirent struct {
	name string
	ino  uint64
	dir  bool
}

const memRootIno = 1

func newMemFS() *memFS {
	fs := &memFS{}
	fs.mu.nodes = map[uint64]*memNode{}
	fs.mu.handles = map[uint64]*memHandle{}
	fs.mu.nextIno = memRootIno
	root := fs.newNodeLocked(true, 0o755)
	root.curLinks, root.durLinks = 1, 1 // the root is always there
	return fs
}

func (fs *memFS) newNodeLocked(dir bool, perm uint32) *memNode {
	n := &memNode{ino: fs.mu.nextIno, dir: dir, perm: perm, mtime: time.Now()}
	fs.mu.nextIno++
	if dir {
		n.curEnt, n.durEnt = map[string]uint64{}, map[string]uint64{}
	} else {
		n.cur = memFile{pages: map[int64]*[memPage]byte{}}
		n.dur = n.cur.clone()
	}
	fs.mu.nodes[n.ino] = n
	return n
}

// maybeFreeLocked drops a node nothing refers to any more.
func (fs *memFS) maybeFreeLocked(n *memNode) {
	if n.curLinks <= 0 && n.durLinks <= 0 && n.open <= 0 && n.ino != memRootIno {
		delete(fs.mu.nodes, n.ino)
	}
}

// syncFileLocked makes a file's current content durable.
func (fs *memFS) syncFileLocked(n *memNode) {
	fs.mu.fsyncs++
	n.dur = n.cur.clone()
}

// syncDirLocked makes a directory's current entries durable.
func (fs *memFS) syncDirLocked(n *memNode) {
	fs.mu.dirFsyncs++
	for _, ino := range n.durEnt {
		if c := fs.mu.nodes[ino]; c != nil {
			c.durLinks--
		}
	}
	n.durEnt = make(map[string]uint64, len(n.curEnt))
	for name, ino := range n.curEnt {
		n.durEnt[name] = ino
		if c := fs.mu.nodes[ino]; c != nil {
			c.durLinks++
		}
	}
}

// powerFail throws away everything not durable. The file system must not
// be mounted (no open handles).
func (fs *memFS) powerFail() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.mu.handles = map[uint64]*memHandle{}
	// Keep what the durable entries reach from the root; reset the rest.
	keep := map[uint64]*memNode{}
	var walk func(ino uint64)
	walk = func(ino uint64) {
		n := fs.mu.nodes[ino]
		if n == nil || keep[ino] != nil {
			return
		}
		keep[ino] = n
		if n.dir {
			for _, c := range n.durEnt {
				walk(c)
			}
		}
	}
	walk(memRootIno)
	for _, n := range keep {
		n.open, n.curLinks, n.durLinks = 0, 0, 0
	}
	keep[memRootIno].curLinks, keep[memRootIno].durLinks = 1, 1
	for _, n := range keep {
		if n.dir {
			n.curEnt = make(map[string]uint64, len(n.durEnt))
			for name, ino := range n.durEnt {
				n.curEnt[name] = ino
				keep[ino].curLinks++
				keep[ino].durLinks++
			}
		} else {
			n.cur = n.dur.clone()
		}
	}
	fs.mu.nodes = keep
}

// read copies the current content at off into buf, up to the size.
func (f *memFile) read(buf []byte, off int64) int {
	if off >= f.size {
		return 0
	}
	n := int(min(int64(len(buf)), f.size-off))
	for done := 0; done < n; {
		p, in := (off+int64(done))/memPage, int((off+int64(done))%memPage)
		chunk := min(memPage-in, n-done)
		if pg := f.pages[p]; pg != nil {
			copy(buf[done:done+chunk], pg[in:in+chunk])
		} else {
			clear(buf[done : done+chunk])
		}
		done += chunk
	}
	return n
}

// write stores data at off in the current content; durable pages are
// copied first. Zeros written into a hole stay a hole.
func (f *memFile) write(data []byte, off int64, dur *memFile) {
	for done := 0; done < len(data); {
		p, in := (off+int64(done))/memPage, int((off+int64(done))%memPage)
		chunk := min(memPage-in, len(data)-done)
		part := data[done : done+chunk]
		pg := f.pages[p]
		switch {
		case pg == nil && allZero(part):
		case pg == nil:
			pg = new([memPage]byte)
			f.pages[p] = pg
		case dur.pages[p] == pg:
			cp := *pg
			pg = &cp
			f.pages[p] = pg
		}
		if pg != nil {
			copy(pg[in:], part)
		}
		done += chunk
	}
	f.size = max(f.size, off+int64(len(data)))
}

// truncate sets the current size; bytes past it are zeroed.
func (f *memFile) truncate(size int64, dur *memFile) {
	if size < f.size {
		for p := range f.pages {
			if p*memPage >= size {
				delete(f.pages, p)
			}
		}
		if in := size % memPage; in != 0 {
			if pg := f.pages[size/memPage]; pg != nil {
				if dur.pages[size/memPage] == pg {
					cp := *pg
					pg = &cp
					f.pages[size/memPage] = pg
				}
				clear(pg[in:])
			}
		}
	}
	f.size = size
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// listLocked returns a directory's current entries, sorted.
func (fs *memFS) listLocked(n *memNode) []memDirent {
	var out []memDirent
	for name, ino := range n.curEnt {
		c := fs.mu.nodes[ino]
		out = append(out, memDirent{name: name, ino: ino, dir: c != nil && c.dir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
