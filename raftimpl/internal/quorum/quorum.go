package quorum

import (
	"slices"

	raft "github.com/pontoon-raft/raft"
)

// Majority returns the number of voters out of n that form a quorum. It is 0
// for n == 0: callers treat an empty voter set as never reaching a quorum.
func Majority(n int) int {
	if n <= 0 {
		return 0
	}
	return n/2 + 1
}

// AckedIndexer returns the index a voter has acknowledged (its match index, or
// a heartbeat round number). ok is false for a voter with nothing on record,
// which counts as 0.
type AckedIndexer func(id raft.ServerID) (idx uint64, ok bool)

// CommittedIndex returns the largest index that at least Majority(len(voters))
// of voters have acknowledged, or 0 if voters is empty.
//
// voters must not hold duplicates.
func CommittedIndex(voters []raft.ServerID, acked AckedIndexer) uint64 {
	n := len(voters)
	if n == 0 {
		return 0
	}
	// NB: clusters are small; a stack array avoids an allocation per commit
	// check, which runs on every acknowledgement.
	var stack [7]uint64
	var srt []uint64
	if n <= len(stack) {
		srt = stack[:n]
	} else {
		srt = make([]uint64, n)
	}
	for i, id := range voters {
		idx, _ := acked(id)
		srt[i] = idx
	}
	// Insertion sort, ascending: n is tiny.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && srt[j-1] > srt[j]; j-- {
			srt[j-1], srt[j] = srt[j], srt[j-1]
		}
	}
	// The quorum's smallest member sits Majority(n) places from the top.
	return srt[n-Majority(n)]
}

// VoteResult is the outcome of a vote count.
type VoteResult uint8

const (
	// VotePending means neither a quorum of grants nor of refusals yet.
	VotePending VoteResult = iota + 1
	// VoteLost means a quorum can no longer be reached.
	VoteLost
	// VoteWon means a quorum granted.
	VoteWon
)

// String returns the result's name.
func (r VoteResult) String() string {
	switch r {
	case VotePending:
		return "VotePending"
	case VoteLost:
		return "VoteLost"
	case VoteWon:
		return "VoteWon"
	}
	return "VoteResult(?)"
}

// Tally counts the votes of voters: votes maps a voter to its answer; a voter
// missing from votes has not answered. Votes of non-voters are ignored.
func Tally(voters []raft.ServerID, votes map[raft.ServerID]bool) (granted, rejected, missing int) {
	for _, id := range voters {
		v, ok := votes[id]
		switch {
		case !ok:
			missing++
		case v:
			granted++
		default:
			rejected++
		}
	}
	return granted, rejected, missing
}

// Result decides an election over voters from votes.
func Result(voters []raft.ServerID, votes map[raft.ServerID]bool) VoteResult {
	if len(voters) == 0 {
		return VoteLost
	}
	q := Majority(len(voters))
	granted, _, missing := Tally(voters, votes)
	if granted >= q {
		return VoteWon
	}
	if granted+missing >= q {
		return VotePending
	}
	return VoteLost
}

// Voters returns the IDs of the voters of configuration, sorted.
func Voters(configuration raft.Configuration) []raft.ServerID {
	var out []raft.ServerID
	for _, s := range configuration.Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, s.ID)
		}
	}
	slices.Sort(out)
	return out
}
