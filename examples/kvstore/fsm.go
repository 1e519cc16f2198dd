package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	raft "github.com/pontoon-raft/raft"
)

// Command ops carried in log entries.
const (
	opSet    = "set"    // data[Key] = Value
	opDelete = "delete" // delete(data, Key)
	opMember = "member" // members[ID] = HTTPAddr
	opForget = "forget" // delete(members, ID)
)

// command is one log entry's Data, JSON-encoded.
type command struct {
	Op       string `json:"op"`
	Key      string `json:"key,omitempty"`
	Value    []byte `json:"value,omitempty"`
	ID       string `json:"id,omitempty"`
	HTTPAddr string `json:"http_addr,omitempty"`
}

// fsm is the replicated state: the key-value data and, beside it, each
// server's HTTP address (so any node can send a client to the leader's API,
// across processes and hosts). Apply is deterministic: the same log gives
// the same state on every node.
type fsm struct {
	mu sync.RWMutex
	// data and members are replaced whole by Restore, never merged. Values
	// are never modified in place once stored, so a snapshot may share them.
	data    map[string][]byte
	members map[string]string // server ID -> HTTP address
}

func newFSM() *fsm {
	return &fsm{data: map[string][]byte{}, members: map[string]string{}}
}

// Apply implements raft.FSM. A command it cannot decode is answered with an
// error (the same on every node) and changes nothing.
func (f *fsm) Apply(l *raft.Log) interface{} {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("entry %d: undecodable command: %w", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Op {
	case opSet:
		f.data[c.Key] = c.Value
	case opDelete:
		delete(f.data, c.Key)
	case opMember:
		f.members[c.ID] = c.HTTPAddr
	case opForget:
		delete(f.members, c.ID)
	default:
		return fmt.Errorf("entry %d: unknown op %q", l.Index, c.Op)
	}
	return nil
}

// get returns a key's value.
func (f *fsm) get(key string) ([]byte, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, ok := f.data[key]
	return v, ok
}

// member returns a server's HTTP address.
func (f *fsm) member(id string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a, ok := f.members[id]
	return a, ok
}

// count returns the number of keys.
func (f *fsm) count() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.data)
}

// keys returns the sorted keys.
func (f *fsm) keys() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]string, 0, len(f.data))
	for k := range f.data {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// snapshotState is the snapshot's JSON document.
type snapshotState struct {
	Data    map[string][]byte `json:"data"`
	Members map[string]string `json:"members"`
}

// Snapshot implements raft.FSM: it copies the maps (Apply waits meanwhile,
// so this is all it does); Persist writes the copy while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := &fsmSnapshot{state: snapshotState{
		Data:    make(map[string][]byte, len(f.data)),
		Members: make(map[string]string, len(f.members)),
	}}
	for k, v := range f.data {
		s.state.Data[k] = v
	}
	for k, v := range f.members {
		s.state.Members[k] = v
	}
	return s, nil
}

// Restore implements raft.FSM: the snapshot replaces the whole state. A
// snapshot that does not decode leaves the state as it was and fails.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var st snapshotState
	dec := json.NewDecoder(rc)
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("kvstore snapshot: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("kvstore snapshot: trailing data after the document")
	}
	if st.Data == nil {
		st.Data = map[string][]byte{}
	}
	if st.Members == nil {
		st.Members = map[string]string{}
	}
	f.mu.Lock()
	f.data, f.members = st.Data, st.Members
	f.mu.Unlock()
	return nil
}

// fsmSnapshot is a point-in-time copy of the state.
type fsmSnapshot struct{ state snapshotState }

// Persist implements raft.FSMSnapshot. On error it cancels the sink, so the
// store discards the partial snapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(&s.state); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("kvstore snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}
