package raft

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestLogTypeAndSuffrageStrings(t *testing.T) {
	for want, lt := range map[string]LogType{"LogCommand": 0, "LogNoop": 1, "LogAddPeerDeprecated": 2,
		"LogRemovePeerDeprecated": 3, "LogBarrier": 4, "LogConfiguration": 5, "9": 9} {
		if got := lt.String(); got != want {
			t.Errorf("LogType(%d).String() = %q, want %q", lt, got, want)
		}
	}
	for want, s := range map[string]ServerSuffrage{"Voter": 0, "Nonvoter": 1, "Staging": 2, "ServerSuffrage": 7} {
		if got := s.String(); got != want {
			t.Errorf("ServerSuffrage(%d).String() = %q, want %q", s, got, want)
		}
	}
	for want, s := range map[string]RaftState{"Follower": 0, "Candidate": 1, "Leader": 2, "Shutdown": 3, "Unknown": 9} {
		if got := s.String(); got != want {
			t.Errorf("RaftState(%d).String() = %q, want %q", s, got, want)
		}
	}
}

// The bytes hashicorp/raft writes for {Voter n1 127.0.0.1:7000}.
func TestEncodeConfigurationMatchesHashicorp(t *testing.T) {
	c := Configuration{Servers: []Server{{Suffrage: Voter, ID: "n1", Address: "127.0.0.1:7000"}}}
	want := "81a753657276657273" + "9183" + "a741646472657373" + "ae3132372e302e302e313a37303030" +
		"a24944" + "a26e31" + "a8537566667261676500"
	if got := hex.EncodeToString(EncodeConfiguration(c)); got != want {
		t.Fatalf("EncodeConfiguration:\n got %s\nwant %s", got, want)
	}
	back, err := DecodeConfiguration(EncodeConfiguration(c))
	if err != nil || len(back.Servers) != 1 || back.Servers[0] != c.Servers[0] {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestDecodeConfigurationRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{{0xc1}, {0x81, 0xa7}, bytes.Repeat([]byte{0xdd, 0xff}, 8)} {
		if _, err := DecodeConfiguration(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeConfiguration(% x): %v, want ErrCorrupt", b, err)
		}
	}
}

func TestCheckConfiguration(t *testing.T) {
	ok := Configuration{Servers: []Server{{ID: "a", Address: "x"}, {ID: "b", Address: "y", Suffrage: Nonvoter}}}
	if err := CheckConfiguration(ok); err != nil {
		t.Fatal(err)
	}
	bad := map[string]Configuration{
		"empty":        {},
		"no voter":     {Servers: []Server{{ID: "a", Address: "x", Suffrage: Nonvoter}}},
		"empty ID":     {Servers: []Server{{Address: "x"}}},
		"empty addr":   {Servers: []Server{{ID: "a"}}},
		"dup ID":       {Servers: []Server{{ID: "a", Address: "x"}, {ID: "a", Address: "y"}}},
		"dup address":  {Servers: []Server{{ID: "a", Address: "x"}, {ID: "b", Address: "x"}}},
		"bad suffrage": {Servers: []Server{{ID: "a", Address: "x"}, {ID: "b", Address: "y", Suffrage: 9}}},
	}
	for name, c := range bad {
		if err := CheckConfiguration(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if !HasVote(ok, "a") || HasVote(ok, "b") || HasVote(ok, "c") {
		t.Fatal("HasVote")
	}
	clone := ok.Clone()
	clone.Servers[0].ID = "z"
	if ok.Servers[0].ID != "a" {
		t.Fatal("Clone shares servers")
	}
}
