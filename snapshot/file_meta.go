package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	raft "github.com/pontoon-raft/raft"
)

// fileMeta is the content of meta.json: the SnapshotMeta fields followed by
// CRC, the CRC-64/ECMA of state.bin as 8 big-endian bytes (base64 in JSON).
// The JSON is byte for byte what hashicorp/raft's FileSnapshotStore writes:
//
//	{"Version":1,"ID":"3-10-1795607375173","Index":10,"Term":3,"Peers":"kq4...",
//	 "Configuration":{"Servers":[{"Suffrage":0,"ID":"n1","Address":"127.0.0.1:7000"}]},
//	 "ConfigurationIndex":1,"Size":5,"CRC":"..."}
//
// followed by a newline. While a snapshot is being written its meta.json has
// Size 0 and CRC null.
type fileMeta struct {
	raft.SnapshotMeta
	CRC []byte
}

// crcSize is the length of a finalized CRC.
const crcSize = 8

// maxMetaSize bounds the meta.json read: a configuration of thousands of
// servers fits easily, and a huge file is not a meta.json.
const maxMetaSize = 16 << 20

// marshalMeta returns the bytes of meta.json.
func marshalMeta(m *fileMeta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// parseMeta parses the bytes of a meta.json. It accepts exactly one JSON
// object (whitespace around it is fine) and checks what every meta must
// satisfy; it does not check the version or the CRC's length, which depend
// on the use. Errors wrap raft.ErrCorrupt.
func parseMeta(b []byte) (*fileMeta, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var m fileMeta
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: malformed meta.json: %v", raft.ErrCorrupt, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: malformed meta.json: data after the object", raft.ErrCorrupt)
	}
	if m.Size < 0 {
		return nil, fmt.Errorf("%w: meta.json: negative size %d", raft.ErrCorrupt, m.Size)
	}
	if m.ID == "" {
		return nil, fmt.Errorf("%w: meta.json: empty ID", raft.ErrCorrupt)
	}
	return &m, nil
}

// checkFinal checks what a meta of a finished, readable snapshot must
// satisfy: a supported version and a CRC.
func checkFinal(m *fileMeta) error {
	if m.Version < raft.SnapshotVersionMin || m.Version > raft.SnapshotVersionMax {
		return fmt.Errorf("unsupported snapshot version %d", m.Version)
	}
	if len(m.CRC) != crcSize {
		return fmt.Errorf("%w: meta.json: CRC of %d bytes, want %d", raft.ErrCorrupt, len(m.CRC), crcSize)
	}
	return nil
}
