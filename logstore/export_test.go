package logstore

// JournalSyncs returns how many fdatasyncs s made on journal files, -1
// without a journal.
func JournalSyncs(s *BoltStore) int64 {
	if s.j == nil {
		return -1
	}
	return s.j.syncs.Load()
}
