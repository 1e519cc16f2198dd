package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.etcd.io/bbolt"
)

// soakProbe is what -soak records besides the process's memory, to tell
// which of the store's file, its mapping, or the engine's own memory grows.
// File figures are summed over the nodes in this process's data directory
// (in -procs mode also the children's); the rest are the leader's.
type soakProbe struct {
	// DBMB is the size of the bbolt files (raft.db; raft-wal's wal-meta.db),
	// WALMB raft-wal's segment files, JournalMB Pontoon's journal files.
	DBMB      float64 `json:"db_mb"`
	WALMB     float64 `json:"wal_mb,omitempty"`
	JournalMB float64 `json:"journal_mb,omitempty"`
	// DBMappedMB is the resident part of this process's mappings of .db
	// files (/proc/self/smaps): what bbolt's mmap adds to VmRSS.
	DBMappedMB float64 `json:"db_mapped_rss_mb"`
	// Snapshots are the snapshots on disk, SnapIndex the leader's newest
	// snapshot's index (0: none yet).
	Snapshots int    `json:"snapshots"`
	SnapIndex uint64 `json:"snap_index"`
	// First and Last are the leader's log store's first and last index.
	First uint64 `json:"first_index"`
	Last  uint64 `json:"last_index"`
	// Bolt is the leader's bbolt freelist (nil for raft-wal's log).
	Bolt *boltProbe `json:"bolt,omitempty"`
}

type boltProbe struct {
	FreePages    int     `json:"free_pages"`
	PendingPages int     `json:"pending_pages"`
	FreeAllocMB  float64 `json:"free_alloc_mb"`
	OpenTx       int     `json:"open_read_tx"`
}

// storeProber is a cluster that can report its leader's log store.
type storeProber interface {
	// leaderStore returns the leader's node number (0 for node1), its log
	// indexes and, for a bbolt store, its stats.
	leaderStore() (node int, first, last uint64, st *bbolt.Stats)
}

type boltStatser interface{ Stats() bbolt.Stats }

func boltStats(s any) *bbolt.Stats {
	if b, ok := s.(boltStatser); ok {
		st := b.Stats()
		return &st
	}
	return nil
}

// probeSoak measures dir (the engine's data directory) and cl.
func probeSoak(cl cluster, dir string) soakProbe {
	var p soakProbe
	leaderDir := ""
	if sp, ok := cl.(storeProber); ok {
		var st *bbolt.Stats
		var node int
		node, p.First, p.Last, st = sp.leaderStore()
		leaderDir = filepath.Join(dir, fmt.Sprintf("node%d", node+1))
		if st != nil {
			p.Bolt = &boltProbe{FreePages: st.FreePageN, PendingPages: st.PendingPageN,
				FreeAllocMB: mb(uint64(st.FreeAlloc)), OpenTx: st.OpenTxN}
		}
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if filepath.Base(filepath.Dir(path)) == "snapshots" && !strings.HasSuffix(name, ".tmp") {
				p.Snapshots++
				if leaderDir != "" && filepath.Dir(filepath.Dir(path)) == leaderDir {
					// term-index-ms
					if f := strings.Split(name, "-"); len(f) == 3 {
						if idx, err := strconv.ParseUint(f[1], 10, 64); err == nil {
							p.SnapIndex = max(p.SnapIndex, idx)
						}
					}
				}
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		size := mb(uint64(info.Size()))
		switch {
		case strings.HasSuffix(name, ".db"):
			p.DBMB += size
		case strings.Contains(name, ".journal."):
			p.JournalMB += size
		case strings.HasSuffix(name, ".wal"):
			p.WALMB += size
		}
		return nil
	})
	p.DBMappedMB = mb(mappedRSS(".db"))
	return p
}

// mappedRSS sums the resident size of this process's mappings of files
// whose name ends in suffix, from /proc/self/smaps (0 if unavailable).
func mappedRSS(suffix string) uint64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total uint64
	in := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") || strings.Contains(fields[0], "-") {
			// A mapping's header: "start-end perms offset dev inode path".
			in = len(fields) >= 6 && strings.HasSuffix(fields[len(fields)-1], suffix)
			continue
		}
		if in && fields[0] == "Rss:" && len(fields) >= 2 {
			if kb, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
				total += kb << 10
			}
		}
	}
	return total
}

func (c *ptCluster) leaderStore() (int, uint64, uint64, *bbolt.Stats) {
	i := c.leader.get()
	s := c.nodes[i].store
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	return i, first, last, boltStats(s)
}

func (c *hcCluster) leaderStore() (int, uint64, uint64, *bbolt.Stats) {
	i := c.leader.get()
	s := c.nodes[i].store
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	return i, first, last, boltStats(s)
}

// logSoakSample prints one sample on the progress output.
func logSoakSample(w io.Writer, engine string, s soakSample) {
	p := s.Store
	fmt.Fprintf(w, "bench: %s: soak t=%4.0fs RSS %6.1f MB (window peak %6.1f), anon %6.1f (peak %6.1f), file %6.1f, heap %6.1f, "+
		"db %6.1f MB (mapped rss %6.1f), journal %.1f, wal %.1f, log %d..%d, snaps %d (leader's newest %d)%s, ops %d, goroutines %d\n",
		engine, s.AtSec, s.RSSMB, s.WindowPeakMB, s.AnonMB, s.WindowPeakAnonMB, s.FileMB, s.HeapMB,
		p.DBMB, p.DBMappedMB, p.JournalMB, p.WALMB, p.First, p.Last, p.Snapshots, p.SnapIndex, boltSummary(p.Bolt), s.OpsSoFar, s.Goroutine)
}

func boltSummary(b *boltProbe) string {
	if b == nil {
		return ""
	}
	return fmt.Sprintf(", bolt free %d pending %d pages (%.1f MB), open read tx %d", b.FreePages, b.PendingPages, b.FreeAllocMB, b.OpenTx)
}
