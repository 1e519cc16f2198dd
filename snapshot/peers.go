package snapshot

import (
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
	"github.com/pontoon-raft/raft/transport"
)

// encodePeers returns the legacy (protocol < 2) SnapshotMeta.Peers: the
// msgpack array of the voters' encoded addresses, as hashicorp/raft writes
// it (c0 when there is no voter). trans encodes each address; with a nil
// trans the address bytes are used, which is what NetworkTransport does.
func encodePeers(configuration raft.Configuration, trans transport.Transport) []byte {
	var peers [][]byte
	for _, s := range configuration.Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if trans != nil {
			peers = append(peers, trans.EncodePeer(s.ID, s.Address))
		} else {
			peers = append(peers, []byte(s.Address))
		}
	}
	b, err := codec.Encode(peers)
	if err != nil {
		// A list of byte strings always encodes.
		panic("snapshot: encoding peers: " + err.Error())
	}
	return b
}
