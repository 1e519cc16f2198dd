package crashtest

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	raft "github.com/pontoon-raft/raft"
)

// kvCommand is one write, JSON-encoded in a log entry.
type kvCommand struct {
	Op    string `json:"op"` // "put" or "append"
	Key   string `json:"key"`
	Value string `json:"value"`
}

// kvFSM is the replicated key-value map. Reads take the lock; Apply and
// Restore replace values under it.
type kvFSM struct {
	mu struct {
		sync.Mutex
		data map[string]string
		// index is the index of the last command entry applied (0 before
		// any); nodes that applied the same log agree on it.
		index uint64
	}
}

func newKVFSM() *kvFSM {
	f := &kvFSM{}
	f.mu.data = map[string]string{}
	return f
}

// kvDump is the whole state, as the /dump endpoint and snapshots carry it.
type kvDump struct {
	Index uint64            `json:"index"`
	Data  map[string]string `json:"data"`
}

func (f *kvFSM) Apply(l *raft.Log) interface{} {
	var c kvCommand
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("entry %d: bad command: %v", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Op {
	case "put":
		f.mu.data[c.Key] = c.Value
	case "append":
		f.mu.data[c.Key] += c.Value
	default:
		return fmt.Errorf("entry %d: unknown op %q", l.Index, c.Op)
	}
	f.mu.index = l.Index
	return nil
}

func (f *kvFSM) get(key string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.data[key]
}

func (f *kvFSM) dump() kvDump {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := kvDump{Index: f.mu.index, Data: make(map[string]string, len(f.mu.data))}
	for k, v := range f.mu.data {
		d.Data[k] = v
	}
	return d
}

func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	return kvSnapshot{f.dump()}, nil
}

func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var d kvDump
	if err := json.NewDecoder(rc).Decode(&d); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if d.Data == nil {
		d.Data = map[string]string{}
	}
	f.mu.Lock()
	f.mu.data, f.mu.index = d.Data, d.Index
	f.mu.Unlock()
	return nil
}

type kvSnapshot struct{ d kvDump }

func (s kvSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.d); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s kvSnapshot) Release() {}

// diffDumps describes how two dumps differ ("" if they are equal).
func diffDumps(a, b kvDump) string {
	if a.Index != b.Index {
		return fmt.Sprintf("index %d vs %d", a.Index, b.Index)
	}
	var keys []string
	for k := range a.Data {
		keys = append(keys, k)
	}
	for k := range b.Data {
		if _, ok := a.Data[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		va, oka := a.Data[k]
		vb, okb := b.Data[k]
		if va != vb || oka != okb {
			return fmt.Sprintf("key %q: %q (present %v) vs %q (present %v)", k, va, oka, vb, okb)
		}
	}
	return ""
}
