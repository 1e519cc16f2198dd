package transport

import (
	metrics "github.com/hashicorp/go-metrics"
)

// The server-side timers of hashicorp/raft's NetworkTransport, with its
// names, kinds and labels (docs: raft.net.*):
//
//   - raft.net.getRPCType: from when the server starts waiting for a
//     connection's next request to its first byte. No labels. (Pontoon's
//     reader reads ahead, so the wait starts once the previous request was
//     handed to the engine rather than once its reply was written.)
//   - raft.net.rpcDecode: from the first byte to the decoded request.
//   - raft.net.rpcEnqueue: from the decoded request to its hand-off to the
//     engine (Consumer) or the heartbeat handler's return.
//   - raft.net.rpcRespond: from the hand-off to the reply written to the
//     connection.
//
// The last three carry the label rpcType: Heartbeat, AppendEntries,
// RequestVote, RequestPreVote, InstallSnapshot, TimeoutNow, and Pontoon's
// ReadIndex.
var (
	keyGetRPCType = []string{"raft", "net", "getRPCType"}
	keyRPCDecode  = []string{"raft", "net", "rpcDecode"}
	keyRPCEnqueue = []string{"raft", "net", "rpcEnqueue"}
	keyRPCRespond = []string{"raft", "net", "rpcRespond"}
)

// rpcTypeLabels returns the rpcType label of a request of type typ; hb
// selects Heartbeat for an AppendEntries. The slices are shared and full
// (len == cap), so a sink that appends to them copies.
func rpcTypeLabels(typ uint8, hb bool) []metrics.Label {
	switch typ {
	case rpcAppendEntries:
		if hb {
			return labelsHeartbeat
		}
		return labelsAppendEntries
	case rpcRequestVote:
		return labelsRequestVote
	case rpcRequestPreVote:
		return labelsRequestPreVote
	case rpcInstallSnapshot:
		return labelsInstallSnapshot
	case rpcTimeoutNow:
		return labelsTimeoutNow
	}
	return labelsReadIndex
}

func rpcTypeLabel(v string) []metrics.Label {
	l := []metrics.Label{{Name: "rpcType", Value: v}}
	return l[:1:1]
}

var (
	labelsHeartbeat       = rpcTypeLabel("Heartbeat")
	labelsAppendEntries   = rpcTypeLabel("AppendEntries")
	labelsRequestVote     = rpcTypeLabel("RequestVote")
	labelsRequestPreVote  = rpcTypeLabel("RequestPreVote")
	labelsInstallSnapshot = rpcTypeLabel("InstallSnapshot")
	labelsTimeoutNow      = rpcTypeLabel("TimeoutNow")
	labelsReadIndex       = rpcTypeLabel("ReadIndex")
)

// pristineGlobal is go-metrics' global instance as the library starts it:
// a black hole with a zero Config. While it is still the global, metrics
// to the global are skipped (nobody could receive them).
var pristineGlobal = metrics.Default()

// metricsFor returns where this request's metrics go: the configured
// instance, else go-metrics' global one as it is now (a service may
// install it after creating the transport, as with hashicorp/raft), or nil
// when nothing can receive them, so the hot path skips the clock reads.
func (n *NetworkTransport) metricsFor() *metrics.Metrics {
	if n.metrics != nil {
		return n.metrics
	}
	g := metrics.Default()
	// NB: the zero TimerGranularity tells the library's own black hole
	// from an instance a service installed before this package's init.
	if g == pristineGlobal && g.TimerGranularity == 0 {
		return nil
	}
	return g
}
