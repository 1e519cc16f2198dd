package raft

import (
	"fmt"

	"github.com/pontoon-raft/raft/internal/codec"
)

// ServerID is a unique, stable identifier of a server.
type ServerID string

// ServerAddress is a network address a transport can contact.
type ServerAddress string

// ServerSuffrage says whether a server gets a vote.
type ServerSuffrage int

const (
	// Voter is a server whose vote counts in elections and whose match index
	// counts toward commit.
	Voter ServerSuffrage = iota
	// Nonvoter receives the log but is not consulted for elections or commit.
	Nonvoter
	// Staging is a server that acts like a Nonvoter until it has caught up, and
	// is then promoted to Voter by the leader.
	Staging
)

// String returns "Voter", "Nonvoter" or "Staging", or "ServerSuffrage" for
// unknown values (as hashicorp/raft).
func (s ServerSuffrage) String() string {
	switch s {
	case Voter:
		return "Voter"
	case Nonvoter:
		return "Nonvoter"
	case Staging:
		return "Staging"
	}
	return "ServerSuffrage"
}

// Server is one member of a Configuration.
type Server struct {
	Suffrage ServerSuffrage
	ID       ServerID
	Address  ServerAddress
}

// Configuration is the cluster membership at some point in the log.
type Configuration struct {
	Servers []Server
}

// Clone returns a deep copy.
func (c Configuration) Clone() Configuration {
	var out Configuration
	out.Servers = append(out.Servers, c.Servers...)
	return out
}

// ProtocolVersion is the version of the Raft RPC protocol a node speaks.
type ProtocolVersion int

const (
	// ProtocolVersionMin is the oldest protocol version understood.
	ProtocolVersionMin ProtocolVersion = 0
	// ProtocolVersionMax is the newest protocol version; Pontoon speaks it.
	ProtocolVersionMax ProtocolVersion = 3
)

// SuggestedMaxDataSize is the advised upper bound of a log entry's Data. It is
// advisory: limits are enforced by the transport's configured maximum.
const SuggestedMaxDataSize = 512 * 1024

// EncodeConfiguration returns the msgpack encoding of a configuration, byte
// for byte as hashicorp/raft writes it in LogConfiguration entries.
func EncodeConfiguration(configuration Configuration) []byte {
	b, err := codec.Encode(configuration)
	if err != nil {
		// A Configuration holds only strings and ints: encoding cannot fail.
		panic(fmt.Sprintf("raft: encoding configuration: %v", err))
	}
	return b
}

// DecodeConfiguration decodes bytes written by EncodeConfiguration.
//
// Unlike hashicorp/raft's, it returns an error (wrapping ErrCorrupt) on
// malformed input instead of panicking.
func DecodeConfiguration(buf []byte) (Configuration, error) {
	var c Configuration
	if err := codec.Decode(buf, &c); err != nil {
		return Configuration{}, fmt.Errorf("%w: decoding configuration: %v", ErrCorrupt, err)
	}
	return c, nil
}

// CheckConfiguration checks the rules every configuration must satisfy: no
// empty ID or address, no duplicate ID or address, at least one voter, and
// known suffrage values. Errors wrap ErrInvalidConfig.
func CheckConfiguration(configuration Configuration) error {
	ids := make(map[ServerID]bool, len(configuration.Servers))
	addrs := make(map[ServerAddress]bool, len(configuration.Servers))
	voters := 0
	for _, s := range configuration.Servers {
		if s.ID == "" {
			return fmt.Errorf("%w: empty ID in configuration: %+v", ErrInvalidConfig, configuration)
		}
		if s.Address == "" {
			return fmt.Errorf("%w: empty address in configuration: %v", ErrInvalidConfig, s)
		}
		if ids[s.ID] {
			return fmt.Errorf("%w: found duplicate ID in configuration: %v", ErrInvalidConfig, s.ID)
		}
		ids[s.ID] = true
		if addrs[s.Address] {
			return fmt.Errorf("%w: found duplicate address in configuration: %v", ErrInvalidConfig, s.Address)
		}
		addrs[s.Address] = true
		switch s.Suffrage {
		case Voter:
			voters++
		case Nonvoter, Staging:
		default:
			return fmt.Errorf("%w: unknown suffrage %d for server %v", ErrInvalidConfig, s.Suffrage, s.ID)
		}
	}
	if voters == 0 {
		return fmt.Errorf("%w: need at least one voter in configuration: %+v", ErrInvalidConfig, configuration)
	}
	return nil
}

// HasVote reports whether id is a voter in configuration.
func HasVote(configuration Configuration, id ServerID) bool {
	for _, s := range configuration.Servers {
		if s.ID == id {
			return s.Suffrage == Voter
		}
	}
	return false
}

// RaftState is the role of a node.
type RaftState uint32

const (
	// Follower is the initial state of a node.
	Follower RaftState = iota
	// Candidate is a node running an election.
	Candidate
	// Leader is the elected leader.
	Leader
	// Shutdown is a node that has been shut down.
	Shutdown
)

// String returns the state's name, or "Unknown".
func (s RaftState) String() string {
	switch s {
	case Follower:
		return "Follower"
	case Candidate:
		return "Candidate"
	case Leader:
		return "Leader"
	case Shutdown:
		return "Shutdown"
	}
	return "Unknown"
}
