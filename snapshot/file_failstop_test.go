package snapshot_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pontoon-raft/raft/snapshot"
)

// The same snapshot stored again (a retried InstallSnapshot) replaces its
// older copy instead of pushing the older snapshot out: retain counts
// distinct (term, index) points.
func TestFileRetainCountsDistinctPoints(t *testing.T) {
	s, err := snapshot.NewFileSnapshotStore(t.TempDir(), 2, nil)
	must(t, err)
	older := writeSnap(t, s, 100, 1, "a")
	writeSnap(t, s, 200, 1, "b")
	writeSnap(t, s, 200, 1, "b")
	last := writeSnap(t, s, 200, 1, "b")
	list, err := s.List()
	must(t, err)
	if len(list) != 2 || list[0].ID != last || list[1].ID != older {
		var ids []string
		for _, m := range list {
			ids = append(ids, m.ID)
		}
		t.Fatalf("List = %v, want [%s %s]", ids, last, older)
	}
	entries, err := os.ReadDir(s.Path())
	must(t, err)
	if len(entries) != 2 {
		t.Fatalf("%d directories left in the store, want 2", len(entries))
	}
}

// Damaged reports the finished snapshot directories List leaves out, with
// the index and term from their names; healthy, temporary and foreign
// directories are not reported.
func TestFileDamaged(t *testing.T) {
	s, err := snapshot.NewFileSnapshotStore(t.TempDir(), 3, nil)
	must(t, err)
	healthy := writeSnap(t, s, 10, 1, "a")
	garbage := writeSnap(t, s, 20, 2, "b")
	deleted := writeSnap(t, s, 30, 2, "c")
	must(t, os.WriteFile(filepath.Join(s.Path(), garbage, "meta.json"), []byte("{"), 0o644))
	must(t, os.Remove(filepath.Join(s.Path(), deleted, "meta.json")))
	must(t, os.Mkdir(filepath.Join(s.Path(), "2-40-123.tmp"), 0o755))
	must(t, os.Mkdir(filepath.Join(s.Path(), "backup"), 0o755))

	damaged, err := s.Damaged()
	must(t, err)
	got := map[string]snapshot.DamagedSnapshot{}
	for _, d := range damaged {
		got[d.ID] = d
	}
	if len(got) != 2 {
		t.Fatalf("Damaged = %+v, want %s and %s", damaged, garbage, deleted)
	}
	if d := got[garbage]; d.Index != 20 || d.Term != 2 || d.Err == nil {
		t.Fatalf("garbage meta reported as %+v", d)
	}
	if d := got[deleted]; d.Index != 30 || d.Term != 2 || d.Err == nil {
		t.Fatalf("deleted meta reported as %+v", d)
	}
	if _, ok := got[healthy]; ok {
		t.Fatalf("healthy snapshot %s reported damaged", healthy)
	}
	var _ snapshot.DamageReporter = s
}
