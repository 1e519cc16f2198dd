package transport

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"reflect"
	"testing"

	hraft "github.com/hashicorp/raft"

	raft "github.com/pontoon-raft/raft"
	pt "github.com/pontoon-raft/raft/transport"
)

// The heartbeat example of the fact sheet (§4): from ID "n1", address
// "a:1", term 5, and its reply from "n2"/"b:1".
var (
	factHeartbeat = mustHex("00" + "89" +
		"a4" + hex.EncodeToString([]byte("Addr")) + "a3" + hex.EncodeToString([]byte("a:1")) +
		"a7" + hex.EncodeToString([]byte("Entries")) + "c0" +
		"a2" + hex.EncodeToString([]byte("ID")) + "a2" + hex.EncodeToString([]byte("n1")) +
		"a6" + hex.EncodeToString([]byte("Leader")) + "a3" + hex.EncodeToString([]byte("a:1")) +
		"b1" + hex.EncodeToString([]byte("LeaderCommitIndex")) + "00" +
		"ac" + hex.EncodeToString([]byte("PrevLogEntry")) + "00" +
		"ab" + hex.EncodeToString([]byte("PrevLogTerm")) + "00" +
		"af" + hex.EncodeToString([]byte("ProtocolVersion")) + "03" +
		"a4" + hex.EncodeToString([]byte("Term")) + "05")
	factReply = mustHex("a0" + "87" +
		"a4" + hex.EncodeToString([]byte("Addr")) + "a3" + hex.EncodeToString([]byte("b:1")) +
		"a2" + hex.EncodeToString([]byte("ID")) + "a2" + hex.EncodeToString([]byte("n2")) +
		"a7" + hex.EncodeToString([]byte("LastLog")) + "07" +
		"ae" + hex.EncodeToString([]byte("NoRetryBackoff")) + "c2" +
		"af" + hex.EncodeToString([]byte("ProtocolVersion")) + "03" +
		"a7" + hex.EncodeToString([]byte("Success")) + "c3" +
		"a4" + hex.EncodeToString([]byte("Term")) + "05")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// capture accepts one connection, reads len(factHeartbeat) bytes, answers
// with reply and returns what it read.
func capture(t *testing.T, l net.Listener, reply []byte) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			out <- nil
			return
		}
		defer conn.Close()
		buf := make([]byte, len(factHeartbeat))
		if _, err := io.ReadFull(conn, buf); err != nil {
			out <- nil
			return
		}
		_, _ = conn.Write(reply)
		out <- buf
		_, _ = io.Copy(io.Discard, conn) // until the client closes
	}()
	return out
}

// TestHeartbeatBytesOnTheWire captures what Pontoon's client and hashicorp's
// client put on the socket for the fact sheet's heartbeat: both must be
// exactly the documented bytes, and both must decode the documented reply.
func TestHeartbeatBytesOnTheWire(t *testing.T) {
	hb := &pt.AppendEntriesRequest{RPCHeader: pt.RPCHeader{ProtocolVersion: 3, ID: []byte("n1"), Addr: []byte("a:1")}, Term: 5, Leader: []byte("a:1")}
	wantResp := &pt.AppendEntriesResponse{RPCHeader: pt.RPCHeader{ProtocolVersion: 3, ID: []byte("n2"), Addr: []byte("b:1")}, Term: 5, LastLog: 7, Success: true}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	target := l.Addr().String()

	t.Run("pontoon", func(t *testing.T) {
		got := capture(t, l, factReply)
		cli := newPontoon(t, 0)
		var resp pt.AppendEntriesResponse
		if err := cli.AppendEntries("n2", raft.ServerAddress(target), hb, &resp); err != nil {
			t.Fatal(err)
		}
		if sent := <-got; !bytes.Equal(sent, factHeartbeat) {
			t.Fatalf("Pontoon sent\n%x\nwant\n%x", sent, factHeartbeat)
		}
		if !reflect.DeepEqual(&resp, wantResp) {
			t.Fatalf("decoded reply %#v", resp)
		}
		_ = cli.Close()
	})
	t.Run("hashicorp", func(t *testing.T) {
		got := capture(t, l, factReply)
		cli := newHashi(t, 0)
		var resp hraft.AppendEntriesResponse
		if err := cli.AppendEntries("n2", hraft.ServerAddress(target), toHashi(hb).(*hraft.AppendEntriesRequest), &resp); err != nil {
			t.Fatal(err)
		}
		if sent := <-got; !bytes.Equal(sent, factHeartbeat) {
			t.Fatalf("hashicorp sent\n%x\nwant\n%x", sent, factHeartbeat)
		}
		cli.CloseStreams()
		_ = cli.Close()
	})
}
