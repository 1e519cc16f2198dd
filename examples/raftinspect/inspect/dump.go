package inspect

import (
	"errors"
	"fmt"
	"io"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// dumpPreview is how many payload bytes dump prints without -full.
const dumpPreview = 64

// dump prints the entries from..to (0: the log's first or last).
func dump(w io.Writer, d dataDir, from, to uint64, full bool) error {
	s, err := d.openStore(false, false)
	if err != nil {
		return err
	}
	defer s.Close()
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil {
		return err
	}
	if first == 0 {
		fmt.Fprintln(w, "the log is empty")
		return nil
	}
	if from == 0 {
		from = first
	}
	if to == 0 {
		to = last
	}
	if from > to {
		return fmt.Errorf("-from %d is after -to %d", from, to)
	}
	if from < first || to > last {
		fmt.Fprintf(w, "# the log holds %d..%d\n", first, last)
	}
	var l raft.Log
	for i := max(from, first); i <= min(to, last); i++ {
		if err := s.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				fmt.Fprintf(w, "%d: missing\n", i)
				continue
			}
			return fmt.Errorf("index %d: %w", i, err)
		}
		fmt.Fprintln(w, formatEntry(&l, full))
	}
	return nil
}

// formatEntry prints one entry on one line.
func formatEntry(l *raft.Log, full bool) string {
	at := "-"
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UTC().Format(time.RFC3339Nano)
	}
	head := fmt.Sprintf("%d: term %d %s appended %s", l.Index, l.Term, l.Type, at)
	if len(l.Extensions) > 0 {
		head += fmt.Sprintf(" extensions %q", l.Extensions)
	}
	if l.Type == raft.LogConfiguration {
		c, err := raft.DecodeConfiguration(l.Data)
		if err != nil {
			return head + fmt.Sprintf(" configuration does not decode: %v", err)
		}
		return head + " " + formatConfig(c)
	}
	data := l.Data
	more := ""
	if !full && len(data) > dumpPreview {
		data, more = data[:dumpPreview], "..."
	}
	return head + fmt.Sprintf(" %d bytes %q%s", len(l.Data), data, more)
}
