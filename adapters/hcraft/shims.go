package raft

import (
	"bytes"
	"encoding/json"
	"io"
	"os"

	pontoon "github.com/pontoon-raft/raft"
)

// Shims: members whose hashicorp/raft shape differs from Pontoon's own, or
// that Pontoon does not have under this name.

// ProtocolVersionMax and SnapshotVersionMax are untyped constants in
// hashicorp/raft (Pontoon's are typed), so they convert to any integer type.
const (
	ProtocolVersionMax = 3
	SnapshotVersionMax = 1
)

// Both equal Pontoon's typed constants (a compile-time check: a negative
// constant does not convert to uint).
const (
	_ = uint(ProtocolVersionMax-pontoon.ProtocolVersionMax) + uint(pontoon.ProtocolVersionMax-ProtocolVersionMax)
	_ = uint(SnapshotVersionMax-pontoon.SnapshotVersionMax) + uint(pontoon.SnapshotVersionMax-SnapshotVersionMax)
)

// AddStaging is hashicorp/raft's old name for AddVoter: an untyped constant
// with AddVoter's value. It is not Pontoon's auto-promoting command.
const AddStaging = 0

// Promote is hashicorp/raft's command that turns a Staging server into a
// voter. hashicorp/raft takes ConfigurationChangeCommand values in no public
// call, so this constant only keeps code that names it compiling.
const Promote ConfigurationChangeCommand = 4

// DecodeConfiguration decodes a configuration written by EncodeConfiguration.
// Like hashicorp/raft's, it panics on bad input; Pontoon's own
// (pontoon.DecodeConfiguration) returns an error instead.
func DecodeConfiguration(buf []byte) Configuration {
	c, err := pontoon.DecodeConfiguration(buf)
	if err != nil {
		panic(err)
	}
	return c
}

// ReadPeersJSON reads a peers.json file of the old form, a JSON array of
// addresses, into a configuration of voters whose IDs are their addresses.
// The result must pass the configuration checks.
func ReadPeersJSON(path string) (Configuration, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return Configuration{}, err
	}
	var addrs []string
	if err := json.NewDecoder(bytes.NewReader(buf)).Decode(&addrs); err != nil {
		return Configuration{}, err
	}
	var c Configuration
	for _, a := range addrs {
		c.Servers = append(c.Servers, Server{Suffrage: Voter, ID: ServerID(a), Address: ServerAddress(a)})
	}
	if err := pontoon.CheckConfiguration(c); err != nil {
		return Configuration{}, err
	}
	return c, nil
}

// peersJSONEntry is one server of a peers.json file of the new form.
type peersJSONEntry struct {
	ID       ServerID      `json:"id"`
	Address  ServerAddress `json:"address"`
	NonVoter bool          `json:"non_voter"`
}

// ReadConfigJSON reads a peers.json file of the new form, a JSON array of
// {"id", "address", "non_voter"} objects, into a configuration. The result
// must pass the configuration checks.
func ReadConfigJSON(path string) (Configuration, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return Configuration{}, err
	}
	var entries []peersJSONEntry
	if err := json.NewDecoder(bytes.NewReader(buf)).Decode(&entries); err != nil {
		return Configuration{}, err
	}
	var c Configuration
	for _, e := range entries {
		s := Server{Suffrage: Voter, ID: e.ID, Address: e.Address}
		if e.NonVoter {
			s.Suffrage = Nonvoter
		}
		c.Servers = append(c.Servers, s)
	}
	if err := pontoon.CheckConfiguration(c); err != nil {
		return Configuration{}, err
	}
	return c, nil
}

// LeadershipTransferFuture is the future of a leadership transfer. Raft's
// LeadershipTransfer methods return a Future, which has the same methods.
type LeadershipTransferFuture interface {
	Future
}

// CountingReader is a reader that counts the bytes read through it.
type CountingReader interface {
	io.Reader
	// Count returns the number of bytes read so far.
	Count() int64
}

// ReadCloserWrapper is a ReadCloser that wraps another and hands it out, so
// that an FSM's Restore can reach the reader underneath.
type ReadCloserWrapper interface {
	io.ReadCloser
	// WrappedReadCloser returns the wrapped ReadCloser.
	WrappedReadCloser() io.ReadCloser
}

// WrappingFSM is an FSM that wraps another; the cluster test helpers look
// through it to find the MockFSM underneath.
type WrappingFSM interface {
	// Underlying returns the wrapped FSM.
	Underlying() FSM
}
