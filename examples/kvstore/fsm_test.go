package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// memSink is a SnapshotSink into a buffer.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func apply(t *testing.T, f *fsm, index uint64, c command) interface{} {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b})
}

func TestFSMSnapshotRestore(t *testing.T) {
	f := newFSM()
	apply(t, f, 1, command{Op: opSet, Key: "a", Value: []byte("1")})
	apply(t, f, 2, command{Op: opSet, Key: "b", Value: []byte{0, 0xff, '\n'}}) // not UTF-8
	apply(t, f, 3, command{Op: opSet, Key: "c", Value: []byte("3")})
	apply(t, f, 4, command{Op: opDelete, Key: "c"})
	apply(t, f, 5, command{Op: opMember, ID: "n1", HTTPAddr: "10.0.0.1:11000"})
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after Snapshot are not in it.
	apply(t, f, 6, command{Op: opSet, Key: "a", Value: []byte("changed")})
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil || !sink.closed {
		t.Fatalf("Persist: %v, closed %v", err, sink.closed)
	}
	snap.Release()

	g := newFSM()
	apply(t, g, 1, command{Op: opSet, Key: "stale", Value: []byte("x")}) // replaced, not merged
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if v, _ := g.get("a"); string(v) != "1" {
		t.Errorf("a = %q, want 1", v)
	}
	if v, _ := g.get("b"); !bytes.Equal(v, []byte{0, 0xff, '\n'}) {
		t.Errorf("b = %q", v)
	}
	if _, ok := g.get("c"); ok {
		t.Error("deleted key c restored")
	}
	if _, ok := g.get("stale"); ok {
		t.Error("Restore merged into the old state")
	}
	if a, _ := g.member("n1"); a != "10.0.0.1:11000" {
		t.Errorf("member n1 = %q", a)
	}
	if got := strings.Join(g.keys(), ","); got != "a,b" {
		t.Errorf("keys %s", got)
	}
}

// A damaged snapshot fails Restore with an error and leaves the state.
func TestFSMRestoreRejectsDamage(t *testing.T) {
	f := newFSM()
	apply(t, f, 1, command{Op: opSet, Key: "a", Value: []byte("1")})
	sink := &memSink{}
	snap, _ := f.Snapshot()
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	good := sink.Bytes()
	for name, data := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"trailing":  append(append([]byte{}, good...), []byte(`{"data":{}}`)...),
		"not JSON":  []byte("\x00\x01"),
	} {
		g := newFSM()
		apply(t, g, 1, command{Op: opSet, Key: "keep", Value: []byte("me")})
		if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
		if v, _ := g.get("keep"); string(v) != "me" {
			t.Errorf("%s: a failed Restore changed the state", name)
		}
	}
}

// Undecodable or unknown commands are answered with an error (the same on
// every node) and change nothing.
func TestFSMBadCommands(t *testing.T) {
	f := newFSM()
	if _, ok := f.Apply(&raft.Log{Index: 1, Data: []byte("{")}).(error); !ok {
		t.Error("undecodable command: no error")
	}
	if err, ok := apply(t, f, 2, command{Op: "explode", Key: "a"}).(error); !ok || !strings.Contains(err.Error(), "explode") {
		t.Errorf("unknown op: %v", err)
	}
	if f.count() != 0 {
		t.Error("bad commands changed the state")
	}
}

// errSink fails every write.
type errSink struct{ memSink }

func (s *errSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// Persist cancels the sink when writing fails, so no partial snapshot is
// kept.
func TestFSMPersistCancelsOnError(t *testing.T) {
	f := newFSM()
	apply(t, f, 1, command{Op: opSet, Key: "a", Value: []byte("1")})
	snap, _ := f.Snapshot()
	s := &errSink{}
	if err := snap.Persist(s); err == nil || !s.cancelled || s.closed {
		t.Fatalf("Persist: %v, cancelled %v, closed %v", err, s.cancelled, s.closed)
	}
}
