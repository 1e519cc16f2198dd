package transport

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
)

// The heartbeat of the fact sheet (§4): ID "n1", address "a:1", term 5.
const heartbeatHex = "00" + "89" +
	"a4" + "41646472" + "a3" + "613a31" +
	"a7" + "456e7472696573" + "c0" +
	"a2" + "4944" + "a2" + "6e31" +
	"a6" + "4c6561646572" + "a3" + "613a31" +
	"b1" + "4c6561646572436f6d6d6974496e646578" + "00" +
	"ac" + "507265764c6f67456e747279" + "00" +
	"ab" + "507265764c6f675465726d" + "00" +
	"af" + "50726f746f636f6c56657273696f6e" + "03" +
	"a4" + "5465726d" + "05"

const heartbeatReplyHex = "a0" + "87" +
	"a4" + "41646472" + "a3" + "623a31" +
	"a2" + "4944" + "a2" + "6e32" +
	"a7" + "4c6173744c6f67" + "07" +
	"ae" + "4e6f52657472794261636b6f6666" + "c2" +
	"af" + "50726f746f636f6c56657273696f6e" + "03" +
	"a7" + "53756363657373" + "c3" +
	"a4" + "5465726d" + "05"

func TestWireHeartbeatBytes(t *testing.T) {
	req := &AppendEntriesRequest{RPCHeader: header("n1", "a:1"), Term: 5, Leader: []byte("a:1")}
	got, err := encodeRequest(nil, nil, false, rpcAppendEntries, req, newLimits(&NetworkTransportConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != heartbeatHex {
		t.Fatalf("heartbeat frame\n got %x\nwant %s", got, heartbeatHex)
	}
	resp := &AppendEntriesResponse{RPCHeader: header("n2", "b:1"), Term: 5, LastLog: 7, Success: true}
	reply := appendAppendEntriesResponse(appendString(nil, ""), resp)
	if hex.EncodeToString(reply) != heartbeatReplyHex {
		t.Fatalf("heartbeat reply\n got %x\nwant %s", reply, heartbeatReplyHex)
	}
	// And the reply decodes back.
	var back AppendEntriesResponse
	if e, err := decodeAppendEntriesResponseFast(reply, &back); err != nil || e != "" || !reflect.DeepEqual(&back, resp) {
		t.Fatalf("decode reply: %v %q %#v", err, e, back)
	}
}

// randomBytes returns nil, empty, or random bytes of a length that crosses
// the fixstr/str16/str32 boundaries.
func randomBytes(r *rand.Rand) []byte {
	switch r.Intn(8) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return make([]byte, 31+r.Intn(3))
	case 3:
		return make([]byte, 65535+r.Intn(3))
	default:
		b := make([]byte, r.Intn(300))
		r.Read(b)
		return b
	}
}

func randomUint(r *rand.Rand) uint64 {
	edges := []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	if r.Intn(2) == 0 {
		return edges[r.Intn(len(edges))]
	}
	return r.Uint64() >> r.Intn(64)
}

func randomTime(r *rand.Rand) time.Time {
	switch r.Intn(4) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(r.Int63n(1<<33), r.Int63n(1e9)).UTC()
	case 2:
		return time.Unix(r.Int63n(1<<33), r.Int63n(1e9)).In(time.FixedZone("X", 3600*(r.Intn(25)-12)))
	default:
		return time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	}
}

func randomAppendEntries(r *rand.Rand) *AppendEntriesRequest {
	req := &AppendEntriesRequest{
		RPCHeader:         RPCHeader{ProtocolVersion: raft.ProtocolVersion(r.Intn(300) - 150), ID: randomBytes(r), Addr: randomBytes(r)},
		Term:              randomUint(r),
		Leader:            randomBytes(r),
		PrevLogEntry:      randomUint(r),
		PrevLogTerm:       randomUint(r),
		LeaderCommitIndex: randomUint(r),
	}
	switch r.Intn(4) {
	case 0:
	case 1:
		req.Entries = []*raft.Log{}
	default:
		n := r.Intn(20)
		if r.Intn(10) == 0 {
			n = 16 + r.Intn(5)
		}
		for i := 0; i < n; i++ {
			req.Entries = append(req.Entries, &raft.Log{
				Index: randomUint(r), Term: randomUint(r), Type: raft.LogType(r.Intn(256)),
				Data: randomBytes(r), Extensions: randomBytes(r), AppendedAt: randomTime(r),
			})
		}
	}
	return req
}

func randomAppendEntriesResponse(r *rand.Rand) *AppendEntriesResponse {
	return &AppendEntriesResponse{
		RPCHeader:      RPCHeader{ProtocolVersion: raft.ProtocolVersion(r.Intn(300) - 150), ID: randomBytes(r), Addr: randomBytes(r)},
		Term:           randomUint(r),
		LastLog:        randomUint(r),
		Success:        r.Intn(2) == 0,
		NoRetryBackoff: r.Intn(2) == 0,
	}
}

// TestWireMatchesGoMsgpack checks the hand-written codec against go-msgpack:
// the same bytes out, the same structs back.
func TestWireMatchesGoMsgpack(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var bd codec.BytesDecoder
	for i := 0; i < 500; i++ {
		req := randomAppendEntries(r)
		want, err := codec.Encode(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendAppendEntriesRequest(nil, req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: request bytes differ\n got %x\nwant %x", i, got, want)
		}
		var fast, slow AppendEntriesRequest
		if _, err := decodeAppendEntriesRequestFast(got, &fast, math.MaxInt, false); err != nil {
			t.Fatalf("case %d: fast decode: %v", i, err)
		}
		if err := bd.Decode(got, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("case %d: decoders differ\nfast %#v\nslow %#v", i, fast, slow)
		}

		resp := randomAppendEntriesResponse(r)
		wantResp, err := codec.Encode(resp)
		if err != nil {
			t.Fatal(err)
		}
		gotResp := appendAppendEntriesResponse(nil, resp)
		if !bytes.Equal(gotResp, wantResp) {
			t.Fatalf("case %d: response bytes differ\n got %x\nwant %x", i, gotResp, wantResp)
		}
		frame := appendAppendEntriesResponse(appendString(nil, "some error"), resp)
		var fr, sr AppendEntriesResponse
		var se string
		fe, err := decodeAppendEntriesResponseFast(frame, &fr)
		if err != nil {
			t.Fatal(err)
		}
		if err := bd.DecodeMany(frame, &se, &sr); err != nil {
			t.Fatal(err)
		}
		if fe != se || !reflect.DeepEqual(fr, sr) {
			t.Fatalf("case %d: response decoders differ\nfast %q %#v\nslow %q %#v", i, fe, fr, se, sr)
		}
	}
}

// TestWireDecodeCopies checks that decoded byte slices do not alias the
// frame buffer, which the connection reuses.
func TestWireDecodeCopies(t *testing.T) {
	req := &AppendEntriesRequest{RPCHeader: header("n1", "a:1"), Term: 1, Entries: sampleLogs(3, 10)}
	frame, _ := appendAppendEntriesRequest(nil, req)
	var got AppendEntriesRequest
	if _, err := decodeAppendEntriesRequestFast(frame, &got, 10, false); err != nil {
		t.Fatal(err)
	}
	for i := range frame {
		frame[i] = 0
	}
	if !reflect.DeepEqual(&got, req) {
		t.Fatalf("decoded request changed with the frame buffer")
	}
}

func TestWireEntryLimit(t *testing.T) {
	req := &AppendEntriesRequest{Term: 1, Entries: sampleLogs(5, 1)}
	lim := newLimits(&NetworkTransportConfig{MaxAppendEntries: 4})
	if _, err := encodeRequest(nil, nil, false, rpcAppendEntries, req, lim); !isTooLarge(err) {
		t.Fatalf("encode 5 entries with limit 4: %v", err)
	}
	frame, _ := appendAppendEntriesRequest(nil, req)
	var got AppendEntriesRequest
	if _, err := decodeAppendEntriesRequestFast(frame, &got, 4, false); !isTooLarge(err) {
		t.Fatalf("decode 5 entries with limit 4: %v", err)
	}
}

// TestWireFallbackForms feeds forms the fast decoder leaves to go-msgpack
// through the server's decode path.
func TestWireFallbackForms(t *testing.T) {
	tr := &NetworkTransport{lim: newLimits(&NetworkTransportConfig{})}
	// A map with an unknown key and a uint64 written as int8.
	obj := map[string]interface{}{"Term": int8(5), "Unknown": "x", "Entries": nil, "Addr": []byte("a")}
	b, err := codec.Encode(obj)
	if err != nil {
		t.Fatal(err)
	}
	sc := &serverConn{sr: codec.NewStreamReader(bytes.NewReader(append([]byte{rpcAppendEntries}, b...)))}
	typ, err := tr.readRequestFrame(sc)
	if err != nil {
		t.Fatal(err)
	}
	rpc, _, err := tr.decodeRequest(sc, typ)
	if err != nil {
		t.Fatal(err)
	}
	got := rpc.Command.(*AppendEntriesRequest)
	if got.Term != 5 || string(got.Addr) != "a" {
		t.Fatalf("fallback decode: %#v", got)
	}
}

func isTooLarge(err error) bool {
	return errors.Is(err, raft.ErrMessageTooLarge)
}

func TestSnapshotTimeout(t *testing.T) {
	l := newLimits(&NetworkTransportConfig{Timeout: 10 * time.Second})
	if got := l.snapshotTimeout(100, 0); got != 10*time.Second {
		t.Fatalf("small snapshot: %v", got)
	}
	if got := l.snapshotTimeout(10*DefaultTimeoutScale, 0); got != 100*time.Second {
		t.Fatalf("10 scales: %v", got)
	}
	if got := l.snapshotTimeout(math.MaxInt64, 1); got <= 0 {
		t.Fatalf("huge size overflowed to %v", got)
	}
}
