// Package logstore defines where the replicated log and the engine's stable
// state (term, vote) are kept: the LogStore and StableStore interfaces, with
// the method sets of hashicorp/raft, and their implementations.
//
//   - BoltStore: the default, on bbolt, with the on-disk layout of
//     raft-boltdb/v2 so existing data directories open unchanged, in both
//     directions (bucket "logs": 8-byte big-endian index → msgpack Log;
//     bucket "conf": raw key → raw value, uint64s as 8 big-endian bytes).
//   - SegmentStore: a second backend, not the default, that writes each
//     entry once (BoltStore writes it to its journal and again to bbolt):
//     records appended to preallocated segment files in a directory,
//     with the journal's record format and its crash and damage checks,
//     an index in memory and pread for GetLog. Its files are its own (no
//     hashicorp tool reads them; raftinspect does, through
//     SegmentOptions.ReadOnly, which changes nothing on disk). It emits
//     raft-wal's metrics under raft-wal's names (segment_metrics.go). See
//     segment_store.go.
//   - InmemStore: maps in memory, for tests.
//   - LogCache: a bounded cache of recent entries in front of any LogStore.
//     It is only a LogStore: give the engine the wrapped store as its
//     StableStore.
//
// The storetest subpackage is the conformance suite every implementation
// here runs; a user's own store can run it too.
//
// Errors: GetLog of a missing index returns raft.ErrLogNotFound itself (not
// wrapped: hashicorp/raft compares it with ==); StableStore.Get of a missing
// key returns raft.ErrKeyNotFound, whose text is "not found". Damaged data
// gives an error wrapping raft.ErrCorrupt that names the file.
//
// The write path of BoltStore is built for group commit: StoreLogs writes a
// whole batch in one bbolt transaction and one commit, encodes the entries
// by hand into a buffer it reuses (no reflection, no allocation per entry),
// and packs the pages of appended entries full where bbolt's default split
// leaves them half empty, so a batch writes and fsyncs fewer pages. GetLog
// decodes by hand as well and falls back to the generic msgpack decoder for any encoding it
// does not recognise, so values written by any hashicorp-compatible writer
// (including the new time format) still read.
//
// The journal: by default an appending StoreLogs does not commit to bbolt.
// It writes the batch as one record into a preallocated journal file next
// to the store (<Path>.journal.0 and <Path>.journal.1) with one write and
// one fdatasync, keeps the entries in memory until they are in bbolt, and
// a background checkpoint writes them into bbolt in one transaction every
// eighth of a journal file (1 MiB by default) or every 2,048 entries,
// whichever comes first: large values make few large checkpoints (each
// bbolt commit costs two fsyncs and rewrites a few pages), small ones
// never a long one (when a file fills up, the other takes the writes; it
// was checkpointed long before). bbolt keeps raft-boltdb's
// layout (a new file gets 64 KiB pages: fewer write calls); after a
// crash, New replays the journal into it; after Close the journal files
// are removed, so a cleanly stopped data directory is raft-boltdb's.
// Options.NoJournal commits every write to bbolt instead, for a directory
// that must be readable by raft-boltdb at any instant. The file format is
// in journal.go, the mechanism and its invariants in bolt_journal.go, the
// binding to the bbolt file in journal_state.go, recovery in
// journal_recover.go.
//
// # The journal's contract
//
// After a crash (the process killed, or the machine losing power: every
// byte not yet fsynced lost), New either opens the store with every entry
// whose StoreLogs returned, every value whose Set returned, and nothing a
// DeleteRange that returned removed; or it refuses with an error wrapping
// raft.ErrCorrupt that names the file and the problem (and, where there is
// one, the repair). It never opens with fewer entries than were
// acknowledged because of anything it can detect, and never replays
// entries onto a file they do not extend.
//
// While a journal is set up, the bbolt file records it, in a bucket of
// Pontoon's own ("pontoon"; raft-boltdb reads only "logs" and "conf", and
// a cleanly closed file has no such bucket): the journal's random id, its
// file size, and, stamped by every bbolt transaction the store commits,
// that transaction's id and how far the journal had reached. Each journal
// file's header carries the id and the bbolt transaction the store had
// reached when the file was activated; each record carries the last
// transaction committed before it was written. Every record is followed by
// an end mark in the same write (see journal.go). That costs nothing on
// the write path: still one write and one fdatasync per StoreLogs.
//
// Damage New detects and refuses:
//   - a journal file missing, of another size than it was created with
//     (cut), with no valid header (zeroed), or of another id (another
//     store's, or another run's);
//   - records missing from a journal file: where the valid records end
//     there must be the end mark of the last write, or the start of a write
//     a crash interrupted, and nothing valid after it; damage in the
//     middle, a whole record that does not validate, zeros or garbage
//     where the records end, and records ending before the point raft.db
//     recorded the journal reaching are all refused;
//   - a bbolt file written by another program (raft-boltdb, hashicorp/raft,
//     a bbolt tool: even opening it with raft-boltdb commits a transaction)
//     after Pontoon crashed with its journal in use: the newest bbolt
//     transaction is not Pontoon's last, so the journal is not replayed
//     onto it. DiscardJournal removes the journal (and the entries only it
//     held) to keep such a file;
//   - a bbolt file that lost transactions: a meta page that does not
//     validate (bbolt would silently open the previous transaction), meta
//     pages that are stale or misplaced copies, or, with the journal, a
//     journal activated or a record written after a transaction the file
//     no longer has;
//   - a bbolt file that is empty (0 bytes), or missing while journal
//     files exist, or without a journal record while journal files hold
//     records (raft.db replaced, for instance by a new empty store).
//     A new file is created whole under a temporary name, fsynced and only
//     then renamed into place, so a failed create (a full disk) leaves no
//     file that the next open would take for a new store.
//
// What it cannot detect:
//   - damage that wipes the end of the journal's records starting inside
//     a record's payload (past its first 8 bytes): the result looks
//     exactly like that record's write torn by a crash, and the entries
//     from that record on are lost, unless raft.db recorded the journal
//     reaching further (a checkpoint or another bbolt transaction after
//     them);
//   - a lost write of the newest bbolt meta page (the page keeps the
//     valid meta of two transactions earlier), or the whole bbolt file
//     replaced by an older copy of itself, when no journal record was
//     written after the lost transaction: with Options.NoJournal, or after
//     a clean Close (the journal is gone), or when the lost transaction
//     was the last write before the crash;
//   - damage to bbolt's other pages: bbolt has no checksums there. A value
//     that no longer decodes, or holds another index than its key, is
//     refused when read (at open with Options.VerifyOnOpen); other changes
//     (a Data byte, a page's element count) are not seen.
//
// And one false alarm: a power failure on a disk that persists a later
// sector of a journal write but not an earlier one is refused as damage
// (it cannot be told from damage to an acknowledged record). Fail-stop:
// the node does not start, nothing is lost.
//
// Handing a crashed node's data directory to a raft-boltdb reader
// (hashicorp/raft, a bbolt tool): open it with logstore.BoltStore once
// and Close it (the `raftinspect checkpoint` command does exactly that).
// The open replays the journal into the bbolt file and Close removes the
// journal and Pontoon's bucket, leaving exactly raft-boltdb's file with
// every acknowledged entry. Opening the directory with raft-boltdb first
// shows a log without the journal's entries, and makes Pontoon refuse the
// directory afterwards (see above). With Options.NoJournal the bbolt file
// is complete at every instant and needs no hand-over.
//
// Memory: bbolt reads the file through a memory mapping, and every page a
// read touches (checkpoints walk the last leaf, compaction walks every leaf
// it deletes, GetLog reads entries) stays resident in the process, so
// without care VmRSS grows toward the file's size, which bbolt never
// shrinks (the file is as large as the longest log kept between two
// snapshots; freed pages are reused). On Linux, BoltStore drops the
// mapping's resident pages (madvise MADV_DONTNEED; the data stays in the
// kernel's page cache) each time Options.ResidentTrimBytes (default 16 MiB)
// of log data has been written, deleted or read in the file, which keeps
// the resident part of the file to about that much. A negative value turns
// it off; BoltOptions.Mlock turns it off too. See bolt_resident.go.
//
// Corrupt files: bbolt trusts its file and may crash the process on a
// truncated or damaged one. BoltStore checks the meta pages against the
// file size before bbolt opens it, reads the first and last entries at
// open, and turns a panic or memory fault inside bbolt into an error. A
// failed open never writes to the file.
package logstore
