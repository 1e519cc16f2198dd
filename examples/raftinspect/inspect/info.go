package inspect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	raft "github.com/pontoon-raft/raft"
)

// stableKeys are the engine's keys in the StableStore (hashicorp's names).
var (
	keyCurrentTerm  = []byte("CurrentTerm")
	keyLastVoteTerm = []byte("LastVoteTerm")
	keyLastVoteCand = []byte("LastVoteCand")
)

// logSummary is what one pass over the log finds.
type logSummary struct {
	first, last uint64
	// termRuns are the runs of entries of one term, in order.
	termRuns []termRun
	// configs are the configuration entries, in order.
	configs []configEntry
	// counts counts the entries by type.
	counts map[raft.LogType]int
}

type termRun struct{ term, first, last uint64 }

type configEntry struct {
	index, term uint64
	conf        raft.Configuration
	err         error // the entry does not decode
}

// scanLog reads every entry first..last through the store. Each read error
// is passed to bad, which returns false to stop the scan.
func scanLog(s logStore, bad func(index uint64, err error) bool) (logSummary, error) {
	sum := logSummary{counts: map[raft.LogType]int{}}
	var err error
	if sum.first, err = s.FirstIndex(); err != nil {
		return sum, err
	}
	if sum.last, err = s.LastIndex(); err != nil {
		return sum, err
	}
	if sum.first == 0 {
		return sum, nil
	}
	var l raft.Log
	for i := sum.first; i <= sum.last; i++ {
		if err := s.GetLog(i, &l); err != nil {
			if !bad(i, err) {
				return sum, nil
			}
			continue
		}
		if l.Index != i {
			if !bad(i, fmt.Errorf("%w: entry stored at index %d says index %d", errDamaged, i, l.Index)) {
				return sum, nil
			}
		}
		sum.counts[l.Type]++
		if n := len(sum.termRuns); n > 0 && sum.termRuns[n-1].term == l.Term {
			sum.termRuns[n-1].last = i
		} else {
			sum.termRuns = append(sum.termRuns, termRun{term: l.Term, first: i, last: i})
		}
		if l.Type == raft.LogConfiguration {
			c, err := raft.DecodeConfiguration(l.Data)
			sum.configs = append(sum.configs, configEntry{index: i, term: l.Term, conf: c, err: err})
		}
	}
	return sum, nil
}

// info prints the summary of a data directory.
func info(w io.Writer, d dataDir) error {
	s, err := d.openStore(false, false)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(w, "data directory: %s\n", d.dir)
	if d.seg != "" {
		n, size := segmentFiles(d.seg)
		fmt.Fprintf(w, "log store:      %s (SegmentStore: %d segment files, %d bytes)\n", d.seg, n, size)
	} else if st, err := os.Stat(d.db); err == nil {
		fmt.Fprintf(w, "log store:      %s (%d bytes)\n", d.db, st.Size())
	}
	sum, err := scanLog(s, func(index uint64, err error) bool {
		fmt.Fprintf(w, "  ! index %d: %v\n", index, err)
		return true
	})
	if err != nil {
		return err
	}
	if d.seg == "" {
		if err := printJournal(w, d, sum.last); err != nil {
			return err
		}
	}
	printLog(w, sum)
	printStable(w, s)
	printConfigs(w, sum.configs)
	return printSnapshots(w, d)
}

// segmentFiles counts the segment files in dir and their bytes.
func segmentFiles(dir string) (n int, size int64) {
	names, _ := os.ReadDir(dir)
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".seg") {
			if st, err := e.Info(); err == nil {
				n++
				size += st.Size()
			}
		}
	}
	return n, size
}

// printJournal says whether a journal is present and which entries are in
// it only (raft.db alone ends earlier).
func printJournal(w io.Writer, d dataDir, last uint64) error {
	files := d.journalFiles()
	if len(files) == 0 {
		fmt.Fprintln(w, "journal:        none (raft.db is the whole log; a raft-boltdb reader sees every entry)")
		return nil
	}
	boltLast, err := d.boltLastIndex()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "journal:        %s (left by a node that did not close its store: it crashed, or it is running)\n", strings.Join(files, ", "))
	if last > boltLast {
		fmt.Fprintf(w, "                entries %d..%d are in the journal only; raft.db alone ends at %d: run `raftinspect checkpoint` before handing raft.db to a raft-boltdb reader\n", boltLast+1, last, boltLast)
	} else {
		fmt.Fprintf(w, "                every entry is also in raft.db (%d)\n", boltLast)
	}
	return nil
}

func printLog(w io.Writer, sum logSummary) {
	if sum.first == 0 {
		fmt.Fprintln(w, "log:            empty")
		return
	}
	fmt.Fprintf(w, "log:            first index %d, last index %d (%d entries)\n", sum.first, sum.last, sum.last-sum.first+1)
	var types []string
	for t := raft.LogCommand; t <= raft.LogConfiguration; t++ {
		if n := sum.counts[t]; n > 0 {
			types = append(types, fmt.Sprintf("%s %d", t, n))
		}
	}
	fmt.Fprintf(w, "entry types:    %s\n", strings.Join(types, ", "))
	fmt.Fprintf(w, "terms:          first entry term %d, last entry term %d\n", sum.termRuns[0].term, sum.termRuns[len(sum.termRuns)-1].term)
	for _, r := range sum.termRuns {
		fmt.Fprintf(w, "  term %d: indexes %d..%d\n", r.term, r.first, r.last)
	}
}

func printStable(w io.Writer, s logStore) {
	fmt.Fprintln(w, "stable keys:")
	for _, k := range [][]byte{keyCurrentTerm, keyLastVoteTerm} {
		v, err := s.GetUint64(k)
		switch {
		case errors.Is(err, raft.ErrKeyNotFound):
			fmt.Fprintf(w, "  %-13s (not set)\n", k)
		case err != nil:
			fmt.Fprintf(w, "  %-13s error: %v\n", k, err)
		default:
			fmt.Fprintf(w, "  %-13s %d\n", k, v)
		}
	}
	v, err := s.Get(keyLastVoteCand)
	switch {
	case errors.Is(err, raft.ErrKeyNotFound):
		fmt.Fprintf(w, "  %-13s (not set)\n", keyLastVoteCand)
	case err != nil:
		fmt.Fprintf(w, "  %-13s error: %v\n", keyLastVoteCand, err)
	default:
		fmt.Fprintf(w, "  %-13s %q\n", keyLastVoteCand, v)
	}
}

func printConfigs(w io.Writer, configs []configEntry) {
	if len(configs) == 0 {
		fmt.Fprintln(w, "configurations: none in the log")
		return
	}
	fmt.Fprintf(w, "configurations: %d in the log\n", len(configs))
	for _, c := range configs {
		if c.err != nil {
			fmt.Fprintf(w, "  index %d term %d: does not decode: %v\n", c.index, c.term, c.err)
			continue
		}
		fmt.Fprintf(w, "  index %d term %d: %s\n", c.index, c.term, formatConfig(c.conf))
	}
}

// formatConfig prints a configuration as "[Voter n1 addr1, Nonvoter n2 addr2]".
func formatConfig(c raft.Configuration) string {
	parts := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		parts[i] = fmt.Sprintf("%s %s %s", s.Suffrage, s.ID, s.Address)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func printSnapshots(w io.Writer, d dataDir) error {
	dir, ok := d.snapshotDir()
	if !ok {
		fmt.Fprintf(w, "snapshots:      none (%s does not exist)\n", dir)
		return nil
	}
	var warn strings.Builder
	store, err := d.openSnapshots(&warn)
	if err != nil {
		return err
	}
	metas, err := store.List()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "snapshots:      %d in %s\n", len(metas), dir)
	for _, m := range metas {
		fmt.Fprintf(w, "  %s: index %d term %d size %d version %d\n", m.ID, m.Index, m.Term, m.Size, m.Version)
		fmt.Fprintf(w, "    configuration (index %d): %s\n", m.ConfigurationIndex, formatConfig(m.Configuration))
	}
	if warn.Len() > 0 {
		for _, line := range strings.Split(strings.TrimSpace(warn.String()), "\n") {
			fmt.Fprintf(w, "  ! %s\n", line)
		}
	}
	return nil
}
