package inspect

import (
	"fmt"
	"io"
)

// checkpoint folds a crashed node's journal into raft.db: it opens the
// store read-write without a journal, which writes the journal's entries
// into bbolt, and closes it, which removes the journal files. Afterwards
// raft.db alone holds the node's whole log, as raft-boltdb readers
// (hashicorp/raft after a roll-back, backup tools) need.
func checkpoint(w io.Writer, d dataDir) error {
	if d.seg != "" {
		return fmt.Errorf("%s: %w", d.seg, errNoJournal)
	}
	files := d.journalFiles()
	if len(files) == 0 {
		fmt.Fprintf(w, "no journal next to %s: raft.db already holds the whole log\n", d.db)
		return nil
	}
	before, err := d.boltLastIndex()
	if err != nil {
		return err
	}
	s, err := d.openBoltStore(true, false)
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil {
		_ = s.Close()
		return err
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", d.db, err)
	}
	if left := d.journalFiles(); len(left) > 0 {
		return fmt.Errorf("journal files still present after the checkpoint: %v", left)
	}
	after, err := d.boltLastIndex()
	if err != nil {
		return err
	}
	if after != last {
		return fmt.Errorf("%w: after the checkpoint raft.db ends at %d, the log at %d", errDamaged, after, last)
	}
	fmt.Fprintf(w, "checkpointed %s: raft.db ended at index %d, now at %d; journal files removed (%d); raft-boltdb readers now see every entry\n",
		d.db, before, after, len(files))
	return nil
}
