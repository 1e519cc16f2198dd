// Package logstore defines where the replicated log and the engine's stable
// state (term, vote) are kept: the LogStore and StableStore interfaces, with
// the method sets of hashicorp/raft, and their implementations.
//
//   - BoltStore: the default, on bbolt, with the on-disk layout of
//     raft-boltdb/v2 so existing data directories open unchanged, in both
//     directions (bucket "logs": 8-byte big-endian index → msgpack Log;
//     bucket "conf": raw key → raw value, uint64s as 8 big-endian bytes).
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
// eighth of a journal file (when a file fills up, the other takes the
// writes; it was checkpointed long before). bbolt keeps raft-boltdb's
// layout (a new file gets 64 KiB pages: fewer write calls); after a
// crash, New replays the journal into it; after Close the journal files
// are removed, so a cleanly stopped data directory is raft-boltdb's.
// Options.NoJournal commits every write to bbolt instead, for a directory
// that must be readable by raft-boltdb at any instant. The file format is
// in journal.go, the mechanism and its invariants in bolt_journal.go.
//
// Corrupt files: bbolt trusts its file and may crash the process on a
// truncated or damaged one. BoltStore checks the meta pages against the
// file size before bbolt opens it, reads the first and last entries at
// open, and turns a panic or memory fault inside bbolt into an error. A
// failed open never writes to the file.
package logstore
