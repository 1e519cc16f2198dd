package crashtest

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// memFUSE serves a memFS over FUSE (go-fuse's raw API: node IDs are memFS
// inode numbers). Operations it does not implement answer ENOSYS.
type memFUSE struct {
	fuse.RawFileSystem
	fs *memFS
}

// memMount is a memFS mounted at dir. Unmount, powerFail, mount again:
// that is a power failure.
type memMount struct {
	dir string
	fs  *memFS
	srv *fuse.Server
}

// errNoFUSE marks a mount failure that means FUSE is not available here.
var errNoFUSE = errors.New("FUSE unavailable")

// mountMemFS mounts a new memFS at dir (which must exist and be empty).
func mountMemFS(dir string) (*memMount, error) {
	m := &memMount{dir: dir, fs: newMemFS()}
	return m, m.mount()
}

func (m *memMount) mount() error {
	srv, err := fuse.NewServer(&memFUSE{RawFileSystem: fuse.NewDefaultRawFileSystem(), fs: m.fs}, m.dir, &fuse.MountOptions{
		FsName:             "pontoon-memfs",
		Name:               "memfs",
		DirectMountStrict:  true, // as root, mount(2) itself: no fusermount needed
		DisableReadDirPlus: true,
		MaxWrite:           1 << 20,
	})
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			return fmt.Errorf("%w: mount %s: %v", errNoFUSE, m.dir, err)
		}
		return fmt.Errorf("mount %s: %w", m.dir, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		_ = srv.Unmount()
		return fmt.Errorf("mount %s: %w", m.dir, err)
	}
	m.srv = srv
	return nil
}

func (m *memMount) unmount() error {
	if m.srv == nil {
		return nil
	}
	if err := m.srv.Unmount(); err != nil {
		// Something still has a file open. Force it: the kernel aborts the
		// connection, so no process (this one included) can hang on it.
		if ferr := syscall.Unmount(m.dir, syscall.MNT_FORCE|syscall.MNT_DETACH); ferr != nil {
			return fmt.Errorf("unmount %s: %w (forced: %v)", m.dir, err, ferr)
		}
		m.srv.Wait()
		m.srv = nil
		return fmt.Errorf("unmount %s: %w (forced)", m.dir, err)
	}
	m.srv.Wait()
	m.srv = nil
	return nil
}

// powerFail cuts the power of the file system: unmount (the node using it
// must be dead), drop everything not durable, mount again.
func (m *memMount) powerFail() error {
	if err := m.unmount(); err != nil {
		return err
	}
	m.fs.powerFail()
	return m.mount()
}

// attrTimeout: the kernel may cache names and attributes this long. Only
// the kernel changes this file system while it is mounted, and a power
// failure remounts it, so caching is safe.
const attrTimeout = time.Second

func (f *memFUSE) String() string { return "memfs" }

func (f *memFUSE) fillAttr(n *memNode, a *fuse.Attr) {
	*a = fuse.Attr{Ino: n.ino, Nlink: 1, Blksize: memPage}
	if n.dir {
		a.Mode = syscall.S_IFDIR | n.perm
		a.Nlink = 2
	} else {
		a.Mode = syscall.S_IFREG | n.perm
		a.Size = uint64(n.cur.size)
		a.Blocks = uint64(len(n.cur.pages)) * memPage / 512
	}
	sec, nsec := uint64(n.mtime.Unix()), uint32(n.mtime.Nanosecond())
	a.Mtime, a.Atime, a.Ctime = sec, sec, sec
	a.Mtimensec, a.Atimensec, a.Ctimensec = nsec, nsec, nsec
}

func (f *memFUSE) fillEntry(n *memNode, out *fuse.EntryOut) {
	out.NodeId = n.ino
	out.SetEntryTimeout(attrTimeout)
	out.SetAttrTimeout(attrTimeout)
	f.fillAttr(n, &out.Attr)
}

// dirLocked returns the directory with inode ino.
func (f *memFUSE) dirLocked(ino uint64) (*memNode, fuse.Status) {
	n := f.fs.mu.nodes[ino]
	if n == nil {
		return nil, fuse.ENOENT
	}
	if !n.dir {
		return nil, fuse.ENOTDIR
	}
	return n, fuse.OK
}

func (f *memFUSE) Lookup(_ <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	d, st := f.dirLocked(h.NodeId)
	if !st.Ok() {
		return st
	}
	ino, ok := d.curEnt[name]
	if !ok {
		return fuse.ENOENT
	}
	f.fillEntry(f.fs.mu.nodes[ino], out)
	return fuse.OK
}

func (f *memFUSE) GetAttr(_ <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.fs.mu.nodes[in.NodeId]
	if n == nil {
		return fuse.ENOENT
	}
	f.fillAttr(n, &out.Attr)
	out.SetTimeout(attrTimeout)
	return fuse.OK
}

func (f *memFUSE) SetAttr(_ <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.fs.mu.nodes[in.NodeId]
	if n == nil {
		return fuse.ENOENT
	}
	if size, ok := in.GetSize(); ok {
		if n.dir {
			return fuse.EISDIR
		}
		n.cur.truncate(int64(size), &n.dur)
		n.mtime = time.Now()
	}
	if mode, ok := in.GetMode(); ok {
		n.perm = mode & 0o7777
	}
	if mt, ok := in.GetMTime(); ok {
		n.mtime = mt
	}
	f.fillAttr(n, &out.Attr)
	out.SetTimeout(attrTimeout)
	return fuse.OK
}

func (f *memFUSE) Mkdir(_ <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	d, st := f.dirLocked(in.NodeId)
	if !st.Ok() {
		return st
	}
	if _, ok := d.curEnt[name]; ok {
		return fuse.Status(syscall.EEXIST)
	}
	n := f.fs.newNodeLocked(true, in.Mode&0o7777)
	d.curEnt[name] = n.ino
	n.curLinks++
	f.fillEntry(n, out)
	return fuse.OK
}

func (f *memFUSE) Create(_ <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	d, st := f.dirLocked(in.NodeId)
	if !st.Ok() {
		return st
	}
	var n *memNode
	if ino, ok := d.curEnt[name]; ok {
		if in.Flags&syscall.O_EXCL != 0 {
			return fuse.Status(syscall.EEXIST)
		}
		n = f.fs.mu.nodes[ino]
		if n.dir {
			return fuse.EISDIR
		}
		if in.Flags&syscall.O_TRUNC != 0 {
			n.cur.truncate(0, &n.dur)
		}
	} else {
		n = f.fs.newNodeLocked(false, in.Mode&0o7777)
		d.curEnt[name] = n.ino
		n.curLinks++
	}
	f.fillEntry(n, &out.EntryOut)
	out.OpenOut.Fh = f.openLocked(n, nil)
	return fuse.OK
}

func (f *memFUSE) openLocked(n *memNode, listing []memDirent) uint64 {
	f.fs.mu.nextFh++
	f.fs.mu.handles[f.fs.mu.nextFh] = &memHandle{ino: n.ino, listing: listing}
	n.open++
	return f.fs.mu.nextFh
}

func (f *memFUSE) releaseLocked(fh uint64) {
	h := f.fs.mu.handles[fh]
	if h == nil {
		return
	}
	delete(f.fs.mu.handles, fh)
	if n := f.fs.mu.nodes[h.ino]; n != nil {
		n.open--
		f.fs.maybeFreeLocked(n)
	}
}

func (f *memFUSE) Open(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.fs.mu.nodes[in.NodeId]
	if n == nil {
		return fuse.ENOENT
	}
	if n.dir {
		return fuse.EISDIR
	}
	if in.Flags&syscall.O_TRUNC != 0 {
		n.cur.truncate(0, &n.dur)
	}
	out.Fh = f.openLocked(n, nil)
	return fuse.OK
}

func (f *memFUSE) Read(_ <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.fs.mu.nodes[in.NodeId]
	if n == nil {
		return nil, fuse.ENOENT
	}
	if n.dir {
		return nil, fuse.EISDIR
	}
	if int(in.Size) < len(buf) {
		buf = buf[:in.Size]
	}
	k := n.cur.read(buf, int64(in.Offset))
	return fuse.ReadResultData(buf[:k]), fuse.OK
}

func (f *memFUSE) Write(_ <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.fs.mu.nodes[in.NodeId]
	if n == nil {
		return 0, fuse.ENOENT
	}
	n.cur.write(data, int64(in.Offset), &n.dur)
	n.mtime = time.Now()
	return uint32(len(data)), fuse.OK
}

func (f *memFUSE) Fallocate(_ <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.fs.mu.nodes[in.NodeId]
	if n == nil {
		return fuse.ENOENT
	}
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	switch in.Mode {
	case 0:
		n.cur.size = max(n.cur.size, int64(in.Offset+in.Length))
	case keepSize:
	default:
		return fuse.Status(syscall.EOPNOTSUPP)
	}
	return fuse.OK
}

func (f *memFUSE) Flush(_ <-chan struct{}, _ *fuse.FlushIn) fuse.Status { return fuse.OK }

func (f *memFUSE) Release(_ <-chan struct{}, in *fuse.ReleaseIn) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.releaseLocked(in.Fh)
}

func (f *memFUSE) Fsync(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	n := f.fs.mu.nodes[in.NodeId]
	if n == nil {
		return fuse.ENOENT
	}
	if n.dir {
		f.fs.syncDirLocked(n)
	} else {
		f.fs.syncFileLocked(n)
	}
	return fuse.OK
}

func (f *memFUSE) FsyncDir(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	d, st := f.dirLocked(in.NodeId)
	if !st.Ok() {
		return st
	}
	f.fs.syncDirLocked(d)
	return fuse.OK
}

func (f *memFUSE) Unlink(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return f.remove(h.NodeId, name, false)
}

func (f *memFUSE) Rmdir(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return f.remove(h.NodeId, name, true)
}

func (f *memFUSE) remove(parent uint64, name string, dir bool) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	d, st := f.dirLocked(parent)
	if !st.Ok() {
		return st
	}
	ino, ok := d.curEnt[name]
	if !ok {
		return fuse.ENOENT
	}
	n := f.fs.mu.nodes[ino]
	switch {
	case dir && !n.dir:
		return fuse.ENOTDIR
	case !dir && n.dir:
		return fuse.EISDIR
	case dir && len(n.curEnt) > 0:
		return fuse.Status(syscall.ENOTEMPTY)
	}
	delete(d.curEnt, name)
	n.curLinks--
	f.fs.maybeFreeLocked(n)
	return fuse.OK
}

func (f *memFUSE) Rename(_ <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	const noReplace = 1 // RENAME_NOREPLACE
	if in.Flags&^noReplace != 0 {
		return fuse.EINVAL
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	od, st := f.dirLocked(in.NodeId)
	if !st.Ok() {
		return st
	}
	nd, st := f.dirLocked(in.Newdir)
	if !st.Ok() {
		return st
	}
	ino, ok := od.curEnt[oldName]
	if !ok {
		return fuse.ENOENT
	}
	n := f.fs.mu.nodes[ino]
	if old, ok := nd.curEnt[newName]; ok {
		if old == ino {
			return fuse.OK
		}
		if in.Flags&noReplace != 0 {
			return fuse.Status(syscall.EEXIST)
		}
		o := f.fs.mu.nodes[old]
		switch {
		case o.dir && !n.dir:
			return fuse.EISDIR
		case !o.dir && n.dir:
			return fuse.ENOTDIR
		case o.dir && len(o.curEnt) > 0:
			return fuse.Status(syscall.ENOTEMPTY)
		}
		o.curLinks--
		f.fs.maybeFreeLocked(o)
	}
	delete(od.curEnt, oldName)
	nd.curEnt[newName] = ino
	return fuse.OK
}

func (f *memFUSE) OpenDir(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	d, st := f.dirLocked(in.NodeId)
	if !st.Ok() {
		return st
	}
	out.Fh = f.openLocked(d, f.fs.listLocked(d))
	return fuse.OK
}

func (f *memFUSE) ReadDir(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	h := f.fs.mu.handles[in.Fh]
	if h == nil {
		return fuse.EBADF
	}
	for i := int(in.Offset); i < len(h.listing); i++ {
		e := h.listing[i]
		mode := uint32(syscall.S_IFREG)
		if e.dir {
			mode = syscall.S_IFDIR
		}
		if !out.AddDirEntry(fuse.DirEntry{Name: e.name, Ino: e.ino, Mode: mode, Off: uint64(i + 1)}) {
			break
		}
	}
	return fuse.OK
}

func (f *memFUSE) ReleaseDir(in *fuse.ReleaseIn) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.releaseLocked(in.Fh)
}

func (f *memFUSE) Access(_ <-chan struct{}, _ *fuse.AccessIn) fuse.Status { return fuse.OK }

func (f *memFUSE) StatFs(_ <-chan struct{}, _ *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	*out = fuse.StatfsOut{Blocks: 1 << 24, Bfree: 1 << 23, Bavail: 1 << 23, Files: 1 << 20, Ffree: 1 << 19,
		Bsize: memPage, Frsize: memPage, NameLen: 255}
	return fuse.OK
}
