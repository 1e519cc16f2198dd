// Package tracker holds the leader's view of each follower: how much of the
// log it is known to hold (Match), what to send it next (Next), and how
// aggressively to send (State, Inflights).
//
// A Progress is in one of three states:
//
//   - StateProbe: the leader does not know where the follower's log agrees
//     with its own. It sends one MsgApp at a time and waits for the answer
//     (or a heartbeat response, or a tick of silence) before sending another.
//     A rejection moves Next back, using the follower's hint to skip many
//     entries at once.
//
//   - StateReplicate: the follower's log is known to agree up to Match. The
//     leader streams entries optimistically, advancing Next as it sends, up to
//     a bounded number of unacknowledged messages (Inflights).
//
//   - StateSnapshot: the follower needs entries the leader has compacted. One
//     snapshot is in flight; nothing else is sent until it is answered.
//
// Transitions are methods on Progress, so every rule that moves Next or Match
// lives in this package:
//
//	probe --(success)--> replicate
//	replicate --(rejection above Match, or unreachable)--> probe
//	probe/replicate --(next entry compacted)--> snapshot
//	snapshot --(installed)--> probe
//	snapshot --(failed)--> probe, paused until the follower answers a heartbeat
//
// The package does no I/O and has no notion of time; the core calls in.
package tracker
