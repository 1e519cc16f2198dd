package crashtest

import (
	"fmt"
	"sort"
)

// describeLoss lists what a power failure now would throw away or bring
// back, one line per file or directory: names not made durable (with what
// is under them), removals and renames not made durable, and file data
// not fsynced.
func (fs *memFS) describeLoss() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	var walk func(n *memNode, path string)
	walk = func(n *memNode, path string) {
		var names []string
		for name := range n.curEnt {
			names = append(names, name)
		}
		for name := range n.durEnt {
			if _, ok := n.curEnt[name]; !ok {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			p := path + "/" + name
			cur, inCur := n.curEnt[name]
			dur, inDur := n.durEnt[name]
			c := fs.mu.nodes[cur]
			switch {
			case inCur && (!inDur || dur != cur):
				files, bytes := fs.countLocked(c)
				what := fmt.Sprintf("file of %d bytes", bytes)
				if c.dir {
					what = fmt.Sprintf("directory with %d files, %d bytes", files, bytes)
				}
				out = append(out, fmt.Sprintf("%s: name not durable (%s) — lost", p, what))
			case !inCur:
				out = append(out, fmt.Sprintf("%s: removed or renamed, not durable — comes back", p))
			case c.dir:
				walk(c, p)
			default:
				if d := fileLoss(c); d != "" {
					out = append(out, p+": "+d)
				}
			}
		}
	}
	walk(fs.mu.nodes[memRootIno], "")
	return out
}

// countLocked counts the files and bytes under n (current state).
func (fs *memFS) countLocked(n *memNode) (files int, bytes int64) {
	if !n.dir {
		return 1, n.cur.size
	}
	for _, ino := range n.curEnt {
		if c := fs.mu.nodes[ino]; c != nil {
			f, b := fs.countLocked(c)
			files, bytes = files+f, bytes+b
		}
	}
	return files, bytes
}

// fileLoss describes a file's data not fsynced ("" if none).
func fileLoss(n *memNode) string {
	changed := 0
	for p, pg := range n.cur.pages {
		if n.dur.pages[p] != pg {
			changed++
		}
	}
	for p := range n.dur.pages {
		if _, ok := n.cur.pages[p]; !ok {
			changed++
		}
	}
	if changed == 0 && n.cur.size == n.dur.size {
		return ""
	}
	return fmt.Sprintf("%d pages not fsynced, size %d, durable size %d — lost", changed, n.cur.size, n.dur.size)
}
