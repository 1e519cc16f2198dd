package logstore

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	raft "github.com/pontoon-raft/raft"
)

// BenchmarkCheckpoint measures one checkpoint (commitPending: one bbolt
// transaction appending the entries, fsynced) of the sizes the trigger
// makes: ckptMaxEntries small entries, or an eighth of a default journal
// file of 1 KiB entries. It reports the pages bbolt wrote and the bytes
// of entries per checkpoint. The store grows through the run, as a log
// does between compactions.
func BenchmarkCheckpoint(b *testing.B) {
	for _, c := range []struct{ size, n int }{
		{16, ckptMaxEntries},
		{1024, DefaultJournalSize / 8 / 1100},
		{1024, 2 << 20 / 8 / 1100}, // the 2 MiB journal's checkpoints
	} {
		b.Run(fmt.Sprintf("value=%d/entries=%d", c.size, c.n), func(b *testing.B) {
			s, err := New(Options{Path: filepath.Join(b.TempDir(), "raft.db"), Logger: hclog.NewNullLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, c.size)
			ents := make([][]byte, c.n)
			bytes := 0
			for i := range ents {
				if ents[i], err = appendLog(nil, &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}); err != nil {
					b.Fatal(err)
				}
				bytes += len(ents[i])
			}
			before := s.db.Stats().TxStats
			next := uint64(1)
			b.SetBytes(int64(bytes))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.commitPending(next, ents); err != nil {
					b.Fatal(err)
				}
				next += uint64(c.n)
			}
			b.StopTimer()
			after := s.db.Stats().TxStats
			d := after.Sub(&before)
			b.ReportMetric(float64(d.GetWrite())/float64(b.N), "pagewrites/op")
		})
	}
}
