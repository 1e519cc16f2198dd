package snapshot

// The sinks' exported names, as hashicorp/raft exports its sink types (a
// facade can only alias exported names). Create returns these.
type (
	// FileSnapshotSink is the sink FileSnapshotStore.Create returns.
	FileSnapshotSink = fileSink
	// InmemSnapshotSink is the sink InmemSnapshotStore.Create returns.
	InmemSnapshotSink = inmemSnapshotSink
	// DiscardSnapshotSink is the sink DiscardSnapshotStore.Create returns.
	DiscardSnapshotSink = discardSink
)
