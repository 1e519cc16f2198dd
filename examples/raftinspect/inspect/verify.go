package inspect

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	raft "github.com/pontoon-raft/raft"
)

// verify checks every record: every entry of raft.db and the journal
// decodes and sits at its index, indexes are contiguous and terms never go
// back, the stable keys agree with the log, every configuration entry
// decodes, every snapshot's meta.json parses and its state.bin matches its
// size and CRC, and the log continues where the newest snapshot ends.
func verify(w io.Writer, d dataDir) error {
	var problems []string
	problem := func(format string, args ...interface{}) {
		p := fmt.Sprintf(format, args...)
		problems = append(problems, p)
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	s, err := d.openStore(false, true)
	if err != nil {
		return err
	}
	defer s.Close()
	sum, err := scanLog(s, func(index uint64, err error) bool {
		if errors.Is(err, raft.ErrLogNotFound) {
			problem("index %d is missing: the log has a gap", index)
		} else {
			problem("index %d: %v", index, err)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errDamaged, err)
	}
	for i := 1; i < len(sum.termRuns); i++ {
		if a, b := sum.termRuns[i-1], sum.termRuns[i]; b.term < a.term {
			problem("term goes back from %d (index %d) to %d (index %d)", a.term, a.last, b.term, b.first)
		}
	}
	for _, c := range sum.configs {
		if c.err != nil {
			problem("configuration at index %d does not decode: %v", c.index, c.err)
		}
	}
	verifyStable(s, sum, problem)
	snaps, bytes := verifySnapshots(d, sum, problem)

	if len(problems) > 0 {
		return fmt.Errorf("%w: %d problem(s) in %s", errDamaged, len(problems), d.dir)
	}
	if sum.first == 0 {
		fmt.Fprintf(w, "ok: the log is empty; %d snapshot(s), %d bytes read, CRCs match\n", snaps, bytes)
		return nil
	}
	fmt.Fprintf(w, "ok: %d entries (%d..%d) decode, contiguous, terms %d..%d never go back; %d configuration entries; %d snapshot(s), %d bytes read, CRCs match\n",
		sum.last-sum.first+1, sum.first, sum.last, sum.termRuns[0].term, sum.termRuns[len(sum.termRuns)-1].term,
		len(sum.configs), snaps, bytes)
	return nil
}

// verifyStable checks the stable keys against the log: no entry has a term
// above CurrentTerm, and the vote is not from a later term.
func verifyStable(s logStore, sum logSummary, problem func(string, ...interface{})) {
	cur, err := getUint64(s, keyCurrentTerm)
	if err != nil {
		problem("%s: %v", keyCurrentTerm, err)
		return
	}
	if n := len(sum.termRuns); n > 0 {
		if last := sum.termRuns[n-1].term; last > cur {
			problem("%s is %d but the log holds entries of term %d (the stable state was lost or rolled back)", keyCurrentTerm, cur, last)
		}
	}
	vt, err := getUint64(s, keyLastVoteTerm)
	if err != nil {
		problem("%s: %v", keyLastVoteTerm, err)
		return
	}
	if vt > cur {
		problem("%s %d is above %s %d", keyLastVoteTerm, vt, keyCurrentTerm, cur)
	}
}

// verifySnapshots reads every snapshot whole (the store checks size and
// CRC) and reports directories the store skips as damaged. It returns how
// many snapshots and bytes it read.
func verifySnapshots(d dataDir, sum logSummary, problem func(string, ...interface{})) (int, int64) {
	dir, ok := d.snapshotDir()
	if !ok {
		if sum.first > 1 {
			problem("the log starts at index %d and there is no snapshot directory (%s): entries 1..%d are nowhere", sum.first, dir, sum.first-1)
		}
		return 0, 0
	}
	var warn strings.Builder
	store, err := d.openSnapshots(&warn)
	if err != nil {
		problem("snapshots: %v", err)
		return 0, 0
	}
	metas, err := store.List()
	if err != nil {
		problem("snapshots: %v", err)
		return 0, 0
	}
	listed := map[string]bool{}
	var bytes int64
	var newest *raft.SnapshotMeta
	for _, m := range metas {
		listed[m.ID] = true
		_, rc, err := store.Open(m.ID)
		if err != nil {
			problem("snapshot %s: %v", m.ID, err)
			continue
		}
		n, err := io.Copy(io.Discard, rc)
		_ = rc.Close()
		bytes += n
		if err != nil {
			problem("snapshot %s: %v", m.ID, err)
			continue
		}
		if newest == nil || m.Index > newest.Index {
			newest = m
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		problem("snapshots: %v", err)
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case !e.IsDir() || listed[name]:
		case strings.HasSuffix(name, ".tmp"):
			// An unfinished snapshot: never used, not damage.
		default:
			problem("snapshot directory %s is unreadable and skipped by the store", name)
		}
	}
	if warn.Len() > 0 && len(entries) > len(listed) {
		for _, line := range strings.Split(strings.TrimSpace(warn.String()), "\n") {
			problem("snapshots: %s", line)
		}
	}
	switch {
	case newest == nil && sum.first > 1:
		problem("the log starts at index %d and there is no usable snapshot: entries 1..%d are nowhere", sum.first, sum.first-1)
	case newest != nil && sum.first > newest.Index+1:
		problem("the log starts at index %d but the newest usable snapshot (%s) ends at %d: entries %d..%d are nowhere",
			sum.first, newest.ID, newest.Index, newest.Index+1, sum.first-1)
	}
	return len(metas), bytes
}

// getUint64 reads a stable key; a missing key reads as 0, as the engine
// takes it.
func getUint64(s logStore, key []byte) (uint64, error) {
	v, err := s.GetUint64(key)
	if errors.Is(err, raft.ErrKeyNotFound) {
		return 0, nil
	}
	return v, err
}
