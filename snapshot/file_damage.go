package snapshot

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Damaged implements DamageReporter: every finished snapshot directory
// (named <term>-<index>-<unixMillis>, without the .tmp suffix) whose
// meta.json is missing or unreadable, or whose meta is not that of a
// finished snapshot. A snapshot directory is renamed into place only after
// its meta.json is durable, so such a directory is damage, not a snapshot
// being written. Directories whose names do not parse are not the store's
// and are ignored. Damage to state.bin is not reported here: Open finds it.
func (s *FileSnapshotStore) Damaged() ([]DamagedSnapshot, error) {
	entries, err := os.ReadDir(s.path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: scanning %s: %w", s.path, err)
	}
	var out []DamagedSnapshot
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			continue
		}
		term, index, ok := parseSnapshotName(name)
		if !ok {
			continue
		}
		if !e.IsDir() {
			out = append(out, DamagedSnapshot{ID: name, Index: index, Term: term,
				Err: fmt.Errorf("snapshot: %s is not a directory", name)})
			continue
		}
		m, err := s.readMeta(name)
		if err == nil {
			err = checkFinal(m)
		}
		if err != nil {
			out = append(out, DamagedSnapshot{ID: name, Index: index, Term: term, Err: err})
		}
	}
	return out, nil
}

// parseSnapshotName splits a snapshot directory's name,
// <term>-<index>-<unixMillis>.
func parseSnapshotName(name string) (term, index uint64, ok bool) {
	parts := strings.Split(name, "-")
	if len(parts) != 3 {
		return 0, 0, false
	}
	var err error
	if term, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return 0, 0, false
	}
	if index, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return 0, 0, false
	}
	if _, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
		return 0, 0, false
	}
	return term, index, true
}
