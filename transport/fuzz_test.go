package transport

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math/rand"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/pontoon-raft/raft/internal/codec"
)

// FuzzDecodeFrame runs arbitrary bytes through the server's request decoder
// (as a stream of frames) and the client's reply decoder. Neither may panic
// or accept more than the limits; where the hand-written AppendEntries
// decoders accept a frame, go-msgpack must decode it to the same struct.
func FuzzDecodeFrame(f *testing.F) {
	hb, _ := hex.DecodeString(heartbeatHex)
	reply, _ := hex.DecodeString(heartbeatReplyHex)
	f.Add(hb)
	f.Add(append([]byte{0x80}, reply...))
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 8; i++ {
		req := randomAppendEntries(r)
		req.Entries = req.Entries[:min(len(req.Entries), 3)]
		b, _ := appendAppendEntriesRequest([]byte{rpcAppendEntries}, req)
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte{0x00, 0x81, 0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x02, 0x81, 0xa4, 'S', 'i', 'z', 'e', 0x05, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0x01, 0x81, 0xa4, 'T', 'e', 'r', 'm', 0x07})

	const limit = 1 << 20
	tr := &NetworkTransport{lim: newLimits(&NetworkTransportConfig{MaxMessageSize: limit, MaxAppendEntries: 64})}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0] == 0x80 {
			fuzzReply(t, data[1:])
			return
		}
		// Partial reads exercise the stream reader's refills.
		sc := &serverConn{sr: codec.NewStreamReader(iotest.HalfReader(bytes.NewReader(data)))}
		for {
			typ, err := tr.readRequestFrame(sc)
			if len(sc.frame) > limit+1 {
				t.Fatalf("frame of %d bytes over the %d limit", len(sc.frame), limit)
			}
			if err != nil {
				return
			}
			frame := bytes.Clone(sc.body)
			rpc, snap, err := tr.decodeRequest(sc, typ)
			if err != nil {
				return
			}
			if ae, ok := rpc.Command.(*AppendEntriesRequest); ok {
				if len(ae.Entries) > 64 {
					t.Fatalf("%d entries over the limit", len(ae.Entries))
				}
				var fast, slow AppendEntriesRequest
				if _, err := decodeAppendEntriesRequestFast(frame, &fast, 64, false); err == nil {
					if err := sc.dec.Decode(frame, &slow); err != nil {
						t.Fatalf("fast decoder accepted what go-msgpack rejects: %v", err)
					}
					if !reflect.DeepEqual(fast, slow) {
						t.Fatalf("decoders differ\nfast %#v\nslow %#v", fast, slow)
					}
				}
			}
			if snap != nil {
				if _, err := io.Copy(io.Discard, snap); err != nil {
					return
				}
			}
		}
	})
}

func fuzzReply(t *testing.T, data []byte) {
	c := &clientConn{br: bufio.NewReader(bytes.NewReader(data))}
	tr := &NetworkTransport{lim: newLimits(&NetworkTransportConfig{MaxMessageSize: 1 << 20})}
	tr.shutdownCh = make(chan struct{})
	var resp AppendEntriesResponse
	_, err := c.receive(tr, &resp)
	if err != nil {
		return
	}
	var fast, slow AppendEntriesResponse
	var slowErr string
	fastErr, err := decodeAppendEntriesResponseFast(c.frame, &fast)
	if err != nil {
		if !errors.Is(err, errFallback) {
			t.Fatalf("unexpected fast error %v", err)
		}
		return
	}
	if err := c.dec.DecodeMany(c.frame, &slowErr, &slow); err != nil {
		t.Fatalf("fast decoder accepted what go-msgpack rejects: %v", err)
	}
	if fastErr != slowErr || !reflect.DeepEqual(fast, slow) {
		t.Fatalf("reply decoders differ\nfast %q %#v\nslow %q %#v", fastErr, fast, slowErr, slow)
	}
}
