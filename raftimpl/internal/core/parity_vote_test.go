package core

import (
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// A server that is in no configuration this server holds asks for its vote
// with a much higher term, the leadership-transfer flag and a log that
// claims to be newer: hashicorp/raft refuses it by its first vote rule
// (the candidate must be in the latest configuration), before the term is
// looked at, so the follower keeps its term and its leader (issue 11 row 8).
func TestVoteFromServerOutsideConfigurationChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		committed bool // the follower knows its configuration committed
	}{
		{"configuration committed", true},
		{"configuration not yet known committed", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := bootstrapStorage(voters("a", "b", "c"))
			c, err := New(testConfig("b"), s)
			if err != nil {
				t.Fatal(err)
			}
			// a leads at term 2.
			commit := uint64(0)
			if tc.committed {
				commit = 2
			}
			if err := c.Step(Message{Type: MsgApp, From: "a", To: "b", Term: 2, PrevLogIndex: 1, PrevLogTerm: 1,
				Entries: []*raft.Log{{Index: 2, Term: 2, Type: raft.LogNoop}}, Commit: commit}); err != nil {
				t.Fatal(err)
			}
			drive(t, c, s)
			if c.term != 2 || c.lead != "a" {
				t.Fatalf("setup: term %d leader %q", c.term, c.lead)
			}
			for _, typ := range []MsgType{MsgVote, MsgPreVote} {
				if err := c.Step(Message{Type: typ, From: "x", To: "b", Term: 103, LeadershipTransfer: typ == MsgVote,
					LastLogIndex: 1000, LastLogTerm: 102, Context: 9}); err != nil {
					t.Fatal(err)
				}
				rds := drive(t, c, s)
				var resp *Message
				for _, rd := range rds {
					for i := range rd.Messages {
						if rd.Messages[i].To == "x" {
							resp = &rd.Messages[i]
						}
					}
					if rd.HardState != nil && rd.HardState.Term != 2 {
						t.Fatalf("%v: persisted term %d", typ, rd.HardState.Term)
					}
				}
				if resp == nil || resp.Granted {
					t.Fatalf("%v from a server outside the configuration: response %+v, want a refusal", typ, resp)
				}
				if c.term != 2 || c.lead != "a" || c.vote == "x" || c.role != roleFollower {
					t.Fatalf("%v: term %d leader %q vote %q role %v; want term 2 leader a, no vote for x", typ, c.term, c.lead, c.vote, c.role)
				}
			}
			// A member asking the same way (a transfer) still gets the vote.
			if err := c.Step(Message{Type: MsgVote, From: "c", To: "b", Term: 3, LeadershipTransfer: true,
				LastLogIndex: 2, LastLogTerm: 2, Context: 10}); err != nil {
				t.Fatal(err)
			}
			granted := false
			for _, rd := range drive(t, c, s) {
				for _, m := range rd.Messages {
					granted = granted || (m.To == "c" && m.Granted)
				}
			}
			if !granted || c.term != 3 {
				t.Fatalf("a member's transfer vote: granted %v term %d", granted, c.term)
			}
		})
	}
}
