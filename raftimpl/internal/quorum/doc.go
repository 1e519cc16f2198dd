// Package quorum is the majority arithmetic of the protocol core: which index
// a quorum of voters has acknowledged, and whether a set of votes has won or
// lost an election.
//
// Everything here is a pure function of its arguments. Pontoon uses plain
// majorities over the latest configuration (hashicorp/raft semantics: a
// membership change takes effect when it is appended), so there is no joint
// consensus: a configuration with n voters needs n/2+1 of them.
//
// An empty voter set never reaches a quorum: CommittedIndex returns 0 and
// VoteResult returns VoteLost. The core never starts an election over an
// empty configuration, and a leader without voters never commits.
//
// The fast paths (CommittedIndex sorting a small array on the stack) are
// checked against naive definitions in quick_test.go.
package quorum
