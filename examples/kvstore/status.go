package main

import (
	"net/http"
	"strconv"
)

// serverStatus is one member of the configuration in GET /status.
type serverStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	Suffrage string `json:"suffrage"`
}

// status is the body of GET /status.
type status struct {
	ID                string            `json:"id"`
	RaftAddr          string            `json:"raft_addr"`
	HTTPAddr          string            `json:"http_addr"`
	Role              string            `json:"role"`
	Leader            *serverStatus     `json:"leader"`
	Term              uint64            `json:"term"`
	LastLogIndex      uint64            `json:"last_log_index"`
	CommitIndex       uint64            `json:"commit_index"`
	AppliedIndex      uint64            `json:"applied_index"`
	LastSnapshotIndex uint64            `json:"last_snapshot_index"`
	Configuration     []serverStatus    `json:"configuration"`
	Keys              int               `json:"keys"`
	Stats             map[string]string `json:"stats"`
}

func (n *node) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := status{
		ID:           n.opts.id,
		RaftAddr:     n.raftAddr,
		HTTPAddr:     n.httpAddr,
		Role:         n.raft.State().String(),
		Term:         n.raft.CurrentTerm(),
		LastLogIndex: n.raft.LastIndex(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(),
		Keys:         n.fsm.count(),
		Stats:        n.raft.Stats(),
	}
	st.LastSnapshotIndex, _ = strconv.ParseUint(st.Stats["last_snapshot_index"], 10, 64)
	if addr, id := n.raft.LeaderWithID(); id != "" {
		h, _ := n.fsm.member(string(id))
		st.Leader = &serverStatus{ID: string(id), RaftAddr: string(addr), HTTPAddr: h, Suffrage: "Voter"}
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "configuration: %v", err)
		return
	}
	st.Configuration = []serverStatus{}
	for _, s := range f.Configuration().Servers {
		h, _ := n.fsm.member(string(s.ID))
		ss := serverStatus{ID: string(s.ID), RaftAddr: string(s.Address), HTTPAddr: h, Suffrage: s.Suffrage.String()}
		st.Configuration = append(st.Configuration, ss)
		if st.Leader != nil && string(s.ID) == st.Leader.ID {
			st.Leader.Suffrage = ss.Suffrage
		}
	}
	writeJSON(w, http.StatusOK, st)
}
