package raftimpl

import (
	"fmt"
	"strings"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/snapshot"
)

// The node's durable state at start is its newest snapshot plus the log
// after it. When the newest snapshot cannot be used, falling back to an older
// one is safe only if the log still holds every entry from just after the
// older snapshot up to the newest snapshot's index: otherwise the node would
// come back without entries it acknowledged, and could elect a leader that
// lacks them. restoreOnStart refuses to start in that case, naming the
// snapshots and the gap; so does a log that starts after the snapshot it
// would continue (entries nobody holds any more), and a stable store that
// lost its term while snapshots remain (a node that forgot its vote can vote
// twice in a term).

// restoreOnStart restores the FSM from the newest snapshot that opens and
// restores and that the log continues without a gap, falling back to older
// ones only where the log covers what they lack. It returns the snapshot used
// (zero if none). It errors if snapshots exist and none can be used safely.
func (r *Raft) restoreOnStart() (snapshotInfo, error) {
	list, err := r.snaps.List()
	if err != nil {
		return snapshotInfo{}, fmt.Errorf("listing snapshots: %w", err)
	}
	var damaged []snapshot.DamagedSnapshot
	if dr, ok := r.snaps.(snapshot.DamageReporter); ok {
		if damaged, err = dr.Damaged(); err != nil {
			return snapshotInfo{}, fmt.Errorf("listing snapshots: %w", err)
		}
	}
	span, err := r.storedLogSpan()
	if err != nil {
		return snapshotInfo{}, err
	}
	if err := r.checkTermWithSnapshots(len(list) + len(damaged)); err != nil {
		return snapshotInfo{}, err
	}

	// unusable collects the snapshots newer than the candidate that could not
	// be used: the candidate must be continued by the log up to each of them.
	var unusable []unusableSnapshot
	for _, d := range damaged {
		unusable = append(unusable, unusableSnapshot{id: d.ID, index: d.Index, err: d.Err})
		r.logger.Error("snapshot is damaged", "id", d.ID, "index", d.Index, "error", d.Err)
	}
	for _, meta := range list {
		if err := span.covers(meta.Index, meta.Term, unusable); err != nil {
			return snapshotInfo{}, fmt.Errorf("%w: %s (%s)", raft.ErrCorrupt, err, repairAdvice)
		}
		if r.conf.NoSnapshotRestoreOnStart {
			return infoOf(meta), nil
		}
		if err := r.restoreFrom(meta.ID); err != nil {
			r.logger.Error("failed to restore snapshot, trying an older one", "id", meta.ID, "error", err)
			unusable = append(unusable, unusableSnapshot{id: meta.ID, index: meta.Index, err: err})
			continue
		}
		r.logger.Info("restored from snapshot", "id", meta.ID, "index", meta.Index)
		return infoOf(meta), nil
	}
	if err := span.covers(0, 0, unusable); err != nil {
		return snapshotInfo{}, fmt.Errorf("%w: %s (%s)", raft.ErrCorrupt, err, repairAdvice)
	}
	return snapshotInfo{}, nil
}

// repairAdvice ends every refusal of restoreOnStart.
const repairAdvice = "the node cannot start without losing acknowledged entries: restore the damaged snapshot " +
	"from a backup, or wipe this node's data directory and add it back to the cluster so it catches up from the leader"

// unusableSnapshot is a stored snapshot that could not be restored.
type unusableSnapshot struct {
	id    string
	index uint64
	err   error
}

// logSpan is the stored log's range: first and last are 0 when it is empty.
type logSpan struct{ first, last uint64 }

func (r *Raft) storedLogSpan() (logSpan, error) {
	if r.logs == nil {
		return logSpan{}, nil
	}
	var s logSpan
	var err error
	if s.first, err = r.logs.FirstIndex(); err != nil {
		return s, fmt.Errorf("reading first log index: %w", err)
	}
	if s.last, err = r.logs.LastIndex(); err != nil {
		return s, fmt.Errorf("reading last log index: %w", err)
	}
	return s, nil
}

// covers reports whether starting from the snapshot at (index, term)
// (index 0: no snapshot) keeps every entry the node held: the log must
// continue the snapshot without a gap, and must reach every newer snapshot
// that could not be used.
func (s logSpan) covers(index, term uint64, unusable []unusableSnapshot) error {
	base := "no snapshot"
	if index > 0 {
		base = fmt.Sprintf("snapshot %d-%d", term, index)
	}
	var need uint64 // the newest index the node is known to have held
	var names []string
	for _, u := range unusable {
		if u.index > index {
			names = append(names, fmt.Sprintf("%s (index %d: %v)", u.id, u.index, u.err))
			need = max(need, u.index)
		}
	}
	if s.first == 0 {
		if need > 0 {
			return fmt.Errorf("cannot fall back to %s: newer snapshot %s cannot be used, and the log is empty",
				base, strings.Join(names, "; "))
		}
		return nil
	}
	if s.first > index+1 {
		if need > 0 {
			return fmt.Errorf("cannot fall back to %s: newer snapshot %s cannot be used, and the log starts at %d, "+
				"so entries %d-%d exist nowhere", base, strings.Join(names, "; "), s.first, index+1, s.first-1)
		}
		return fmt.Errorf("the log starts at %d but %s covers entries before it: entries %d-%d exist nowhere "+
			"(was a snapshot deleted?)", s.first, base, index+1, s.first-1)
	}
	if s.last < need {
		return fmt.Errorf("cannot fall back to %s: newer snapshot %s cannot be used, and the log ends at %d, "+
			"so entries %d-%d exist nowhere", base, strings.Join(names, "; "), s.last, s.last+1, need)
	}
	return nil
}

// checkTermWithSnapshots refuses a stable store without a term when
// snapshots exist: a node only stores a snapshot after it has a term, so the
// stable store was lost or replaced (for instance an empty raft.db), and the
// node would forget its vote.
func (r *Raft) checkTermWithSnapshots(snapshots int) error {
	if r.stable == nil || snapshots == 0 {
		return nil
	}
	term, err := getUint64(r.stable, keyCurrentTerm)
	if err != nil {
		return fmt.Errorf("reading %s: %w", keyCurrentTerm, err)
	}
	if term == 0 {
		return fmt.Errorf("%w: the stable store holds no %s but %d snapshot(s) exist: the stable store "+
			"(raft.db) was lost or replaced, and this node would forget its term and vote; restore it from a "+
			"backup, or wipe this node's data directory and add it back to the cluster", raft.ErrCorrupt,
			keyCurrentTerm, snapshots)
	}
	return nil
}
