package quorum

import (
	"math/rand"
	"strconv"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// naiveCommitted is the definition: the largest value v such that at least a
// majority of voters acked an index >= v.
func naiveCommitted(acks []uint64) uint64 {
	if len(acks) == 0 {
		return 0
	}
	var best uint64
	for _, v := range acks {
		n := 0
		for _, w := range acks {
			if w >= v {
				n++
			}
		}
		if n >= len(acks)/2+1 && v > best {
			best = v
		}
	}
	return best
}

func naiveResult(n int, votes []int8) VoteResult {
	// votes: 1 granted, -1 rejected, 0 missing.
	if n == 0 {
		return VoteLost
	}
	g, r := 0, 0
	for _, v := range votes {
		switch v {
		case 1:
			g++
		case -1:
			r++
		}
	}
	if 2*g > n {
		return VoteWon
	}
	if 2*r >= n {
		// More than n - majority refused: no majority of grants is possible.
		if n-r < n/2+1 {
			return VoteLost
		}
	}
	if n-r < n/2+1 {
		return VoteLost
	}
	return VotePending
}

func ids(n int) []raft.ServerID {
	out := make([]raft.ServerID, n)
	for i := range out {
		out[i] = raft.ServerID("s" + strconv.Itoa(i))
	}
	return out
}

func TestCommittedIndexMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 20000; iter++ {
		n := rng.Intn(12)
		voters := ids(n)
		acks := make([]uint64, n)
		m := map[raft.ServerID]uint64{}
		for i := range acks {
			acks[i] = uint64(rng.Intn(10))
			if acks[i] != 0 || rng.Intn(2) == 0 {
				m[voters[i]] = acks[i]
			}
		}
		got := CommittedIndex(voters, func(id raft.ServerID) (uint64, bool) {
			v, ok := m[id]
			return v, ok
		})
		if want := naiveCommitted(acks); got != want {
			t.Fatalf("acks %v: CommittedIndex=%d, naive=%d", acks, got, want)
		}
	}
}

func TestVoteResultMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for iter := 0; iter < 20000; iter++ {
		n := rng.Intn(10)
		voters := ids(n)
		votes := map[raft.ServerID]bool{}
		raw := make([]int8, n)
		for i := range raw {
			raw[i] = int8(rng.Intn(3) - 1)
			switch raw[i] {
			case 1:
				votes[voters[i]] = true
			case -1:
				votes[voters[i]] = false
			}
		}
		// Votes of non-voters never count.
		votes["outsider"] = true
		if got, want := Result(voters, votes), naiveResult(n, raw); got != want {
			t.Fatalf("n=%d votes=%v: Result=%v naive=%v", n, raw, got, want)
		}
	}
}

func TestMajority(t *testing.T) {
	for n, want := range []int{0, 1, 2, 2, 3, 3, 4} {
		if got := Majority(n); got != want {
			t.Errorf("Majority(%d)=%d want %d", n, got, want)
		}
	}
}

func TestVoters(t *testing.T) {
	c := raft.Configuration{Servers: []raft.Server{
		{ID: "c", Suffrage: raft.Voter}, {ID: "a", Suffrage: raft.Voter},
		{ID: "b", Suffrage: raft.Nonvoter}, {ID: "d", Suffrage: raft.Staging},
	}}
	got := Voters(c)
	if len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Fatalf("Voters=%v", got)
	}
}
