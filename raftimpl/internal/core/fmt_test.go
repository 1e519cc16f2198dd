package core

import (
	"fmt"
	"strings"

	raft "github.com/pontoon-raft/raft"
)

// fmtMsg prints a message for simulator traces and scenario scripts.
func fmtMsg(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s->%s %v t%d", m.From, m.To, m.Type, m.Term)
	switch m.Type {
	case MsgApp:
		fmt.Fprintf(&b, " prev=%d/%d commit=%d", m.PrevLogIndex, m.PrevLogTerm, m.Commit)
		if len(m.Entries) > 0 {
			b.WriteString(" [")
			for i, e := range m.Entries {
				if i > 0 {
					b.WriteString(" ")
				}
				fmt.Fprintf(&b, "%d/%d", e.Index, e.Term)
				if e.Type == raft.LogCommand {
					fmt.Fprintf(&b, ":%s", e.Data)
				} else if e.Type == raft.LogNoop {
					b.WriteString(":noop")
				}
			}
			b.WriteString("]")
		}
	case MsgAppResp:
		if m.Success {
			fmt.Fprintf(&b, " ok index=%d", m.Index)
		} else {
			fmt.Fprintf(&b, " reject index=%d hint=%d", m.Index, m.LastLog)
			if m.LastLogTerm != 0 {
				fmt.Fprintf(&b, "/%d", m.LastLogTerm)
			}
		}
	case MsgVote, MsgPreVote:
		fmt.Fprintf(&b, " last=%d/%d", m.LastLogIndex, m.LastLogTerm)
		if m.LeadershipTransfer {
			b.WriteString(" transfer")
		}
	case MsgVoteResp, MsgPreVoteResp:
		if m.Granted {
			b.WriteString(" granted")
		} else {
			b.WriteString(" refused")
		}
	case MsgHeartbeat, MsgHeartbeatResp:
		fmt.Fprintf(&b, " round=%d", m.Context)
	case MsgSnap:
		if m.Snapshot != nil {
			fmt.Fprintf(&b, " snapshot=%d/%d", m.Snapshot.Index, m.Snapshot.Term)
		}
	case MsgSnapResp, MsgReadIndexResp:
		if m.Success {
			fmt.Fprintf(&b, " ok index=%d", m.Index)
		} else {
			b.WriteString(" refused")
		}
		if m.Type == MsgReadIndexResp {
			fmt.Fprintf(&b, " read=%d", m.Context)
		}
	case MsgReadIndex:
		fmt.Fprintf(&b, " read=%d", m.Context)
	}
	return b.String()
}
