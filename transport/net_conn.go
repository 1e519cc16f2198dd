package transport

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	msgpack "github.com/hashicorp/go-msgpack/v2/codec"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/internal/codec"
)

// clientConn is one outgoing connection with its buffers and codecs. It is
// used by one caller at a time (pool ownership or a pipeline).
type clientConn struct {
	key  poolKey
	conn net.Conn
	br   *bufio.Reader
	// bw buffers a request whose data follows (InstallSnapshot); created on
	// first use, since every other request is written in one piece.
	bw *bufio.Writer

	// scratch holds an encoded request; frame holds a received reply. Both
	// are reused across RPCs and dropped when they grow past
	// maxRetainedScratch.
	scratch []byte
	frame   []byte

	enc *msgpack.Encoder
	dec codec.BytesDecoder

	// lastUsed is when the connection was last returned to the pool.
	lastUsed time.Time
}

// shrink drops buffers that a large message grew.
func (c *clientConn) shrink() {
	if cap(c.scratch) > maxRetainedScratch {
		c.scratch = nil
	}
	if cap(c.frame) > maxRetainedScratch {
		c.frame = nil
	}
}

// encodeRequest encodes [typ][args] into buf and returns it. AppendEntries
// with the default time format takes the hand-written path; every other
// message goes through go-msgpack.
func encodeRequest(buf []byte, enc **msgpack.Encoder, newTimeFormat bool, typ uint8, args interface{}, lim limits) ([]byte, error) {
	buf = append(buf[:0], typ)
	if ae, ok := args.(*AppendEntriesRequest); ok {
		if len(ae.Entries) > lim.maxAppendEntries {
			return buf, fmt.Errorf("%w: %d entries in AppendEntries, limit %d", raft.ErrMessageTooLarge, len(ae.Entries), lim.maxAppendEntries)
		}
		if !newTimeFormat {
			var err error
			if buf, err = appendAppendEntriesRequest(buf, ae); err != nil {
				return buf, err
			}
			return buf, checkSize(len(buf)-1, lim)
		}
	}
	var err error
	buf, err = encodeGeneric(buf, enc, newTimeFormat, args)
	if err != nil {
		return buf, err
	}
	return buf, checkSize(len(buf)-1, lim)
}

// encodeGeneric appends v's go-msgpack encoding to buf.
func encodeGeneric(buf []byte, enc **msgpack.Encoder, newTimeFormat bool, v interface{}) ([]byte, error) {
	w := appendWriter{b: buf}
	if *enc == nil {
		*enc = codec.NewStreamEncoder(&w, newTimeFormat)
	} else {
		(*enc).Reset(&w)
	}
	if err := (*enc).Encode(v); err != nil {
		return w.b, fmt.Errorf("encode %T: %w", v, err)
	}
	return w.b, nil
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func checkSize(n int, lim limits) error {
	if n > lim.maxMessageSize {
		return fmt.Errorf("%w: %d-byte message, limit %d", raft.ErrMessageTooLarge, n, lim.maxMessageSize)
	}
	return nil
}

// send writes one request: at once if flush, else into bw, for data to
// follow before the caller flushes.
func (c *clientConn) send(n *NetworkTransport, typ uint8, args interface{}, flush bool) error {
	var err error
	c.scratch, err = encodeRequest(c.scratch, &c.enc, n.newTimeFormat, typ, args, n.lim)
	if err != nil {
		return err
	}
	if flush {
		// The whole request is in scratch: one write, no copy into a buffer.
		if _, err := c.conn.Write(c.scratch); err != nil {
			return n.wrapIOErr(fmt.Errorf("write request: %w", err))
		}
		return nil
	}
	if c.bw == nil {
		c.bw = bufio.NewWriterSize(c.conn, connWriteBufferSize)
	}
	if _, err := c.bw.Write(c.scratch); err != nil {
		return n.wrapIOErr(fmt.Errorf("write request: %w", err))
	}
	return nil
}

// receive reads one reply into resp and returns the remote error text. An
// error return means the connection is unusable.
func (c *clientConn) receive(n *NetworkTransport, resp interface{}) (string, error) {
	var err error
	c.frame, err = readFrame(c.br, c.frame, 2, n.lim.maxMessageSize)
	if err != nil {
		if errors.Is(err, raft.ErrMessageTooLarge) || errors.Is(err, raft.ErrCorrupt) {
			return "", fmt.Errorf("read reply: %w", err)
		}
		return "", n.wrapIOErr(fmt.Errorf("read reply: %w", err))
	}
	if ae, ok := resp.(*AppendEntriesResponse); ok {
		*ae = AppendEntriesResponse{}
		rpcErr, err := decodeAppendEntriesResponseFast(c.frame, ae)
		if err == nil {
			return rpcErr, nil
		}
		*ae = AppendEntriesResponse{}
	}
	var rpcErr string
	if err := c.dec.DecodeMany(c.frame, &rpcErr, resp); err != nil {
		return "", fmt.Errorf("%w: decode reply: %v", raft.ErrCorrupt, err)
	}
	return rpcErr, nil
}
