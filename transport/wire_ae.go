package transport

import (
	"fmt"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// Hand-written msgpack for the hot path: AppendEntriesRequest (with its
// Logs) and AppendEntriesResponse. The encoders produce exactly the bytes of
// go-msgpack's encoder with TimeNotBuiltin (keys sorted, old-spec raw
// strings, smallest integer forms); tests check this byte for byte. The
// decoders accept the forms that encoder produces and return errFallback for
// anything else (unknown keys, other integer widths, the new time format…),
// so the caller decodes those frames with go-msgpack and gets its exact
// semantics. The decoders read from a frame codec.ReadObjects delimited and
// copy every byte slice out of it with one allocation.

// Map keys as encoded (fixstr header + name).
const (
	kAddr              = "\xa4Addr"
	kEntries           = "\xa7Entries"
	kID                = "\xa2ID"
	kLeader            = "\xa6Leader"
	kLeaderCommitIndex = "\xb1LeaderCommitIndex"
	kPrevLogEntry      = "\xacPrevLogEntry"
	kPrevLogTerm       = "\xabPrevLogTerm"
	kProtocolVersion   = "\xafProtocolVersion"
	kTerm              = "\xa4Term"
	kLastLog           = "\xa7LastLog"
	kNoRetryBackoff    = "\xaeNoRetryBackoff"
	kSuccess           = "\xa7Success"
	kAppendedAt        = "\xaaAppendedAt"
	kData              = "\xa4Data"
	kExtensions        = "\xaaExtensions"
	kIndex             = "\xa5Index"
	kType              = "\xa4Type"
)

// appendAppendEntriesRequest appends req's msgpack encoding to b.
func appendAppendEntriesRequest(b []byte, req *AppendEntriesRequest) ([]byte, error) {
	b = appendMapLen(b, 9)
	b = appendBytes(append(b, kAddr...), req.Addr)
	b = append(b, kEntries...)
	if req.Entries == nil {
		b = append(b, 0xc0)
	} else {
		b = appendArrayLen(b, len(req.Entries))
		for _, l := range req.Entries {
			if l == nil {
				b = append(b, 0xc0)
				continue
			}
			var err error
			if b, err = appendLog(b, l); err != nil {
				return b, err
			}
		}
	}
	b = appendBytes(append(b, kID...), req.ID)
	b = appendBytes(append(b, kLeader...), req.Leader)
	b = appendUint(append(b, kLeaderCommitIndex...), req.LeaderCommitIndex)
	b = appendUint(append(b, kPrevLogEntry...), req.PrevLogEntry)
	b = appendUint(append(b, kPrevLogTerm...), req.PrevLogTerm)
	b = appendInt(append(b, kProtocolVersion...), int64(req.ProtocolVersion))
	b = appendUint(append(b, kTerm...), req.Term)
	return b, nil
}

func appendLog(b []byte, l *raft.Log) ([]byte, error) {
	b = appendMapLen(b, 6)
	b = append(b, kAppendedAt...)
	hdr := len(b)
	b = append(b, 0)
	var err error
	if b, err = l.AppendedAt.AppendBinary(b); err != nil {
		return b, fmt.Errorf("encode AppendedAt of log %d: %w", l.Index, err)
	}
	// MarshalBinary output is 15 or 16 bytes: always a fixstr.
	b[hdr] = 0xa0 | byte(len(b)-hdr-1)
	b = appendBytes(append(b, kData...), l.Data)
	b = appendBytes(append(b, kExtensions...), l.Extensions)
	b = appendUint(append(b, kIndex...), l.Index)
	b = appendUint(append(b, kTerm...), l.Term)
	b = appendUint(append(b, kType...), uint64(l.Type))
	return b, nil
}

// appendAppendEntriesResponse appends resp's msgpack encoding to b.
func appendAppendEntriesResponse(b []byte, resp *AppendEntriesResponse) []byte {
	b = appendMapLen(b, 7)
	b = appendBytes(append(b, kAddr...), resp.Addr)
	b = appendBytes(append(b, kID...), resp.ID)
	b = appendUint(append(b, kLastLog...), resp.LastLog)
	b = appendBool(append(b, kNoRetryBackoff...), resp.NoRetryBackoff)
	b = appendInt(append(b, kProtocolVersion...), int64(resp.ProtocolVersion))
	b = appendBool(append(b, kSuccess...), resp.Success)
	b = appendUint(append(b, kTerm...), resp.Term)
	return b
}

// Bits of the keys seen, to send duplicate keys to the general decoder.
const (
	bAddr = 1 << iota
	bEntries
	bID
	bLeader
	bLeaderCommitIndex
	bPrevLogEntry
	bPrevLogTerm
	bProtocolVersion
	bTerm
	bLastLog
	bNoRetryBackoff
	bSuccess
)

func seen(mask *uint32, bit uint32) error {
	if *mask&bit != 0 {
		return errFallback
	}
	*mask |= bit
	return nil
}

// decodeAppendEntriesRequestFast decodes frame (exactly one object) into
// req, which must be zero. It returns errFallback for forms it does not
// handle, or an error wrapping raft.ErrMessageTooLarge when Entries has more
// than maxEntries elements.
//
// The decoded byte slices either point into frame (aliased true: the
// caller must hand frame over to the request and never reuse it) or were
// copied out with one allocation (aliased false). With mayAlias, the byte
// slices are left in the frame when they make up at least half of it, which
// saves a copy of large entries without pinning much more memory than the
// entries themselves.
func decodeAppendEntriesRequestFast(frame []byte, req *AppendEntriesRequest, maxEntries int, mayAlias bool) (aliased bool, err error) {
	r := reader{b: frame}
	n, err := r.mapLen()
	if err != nil {
		return false, err
	}
	var mask uint32
	for ; n > 0; n-- {
		k, err := r.key()
		if err != nil {
			return false, err
		}
		switch string(k) {
		case "Addr":
			err = seen(&mask, bAddr)
			if err == nil {
				req.Addr, err = r.raw()
			}
		case "Entries":
			err = seen(&mask, bEntries)
			if err == nil {
				req.Entries, err = decodeEntries(&r, maxEntries)
			}
		case "ID":
			err = seen(&mask, bID)
			if err == nil {
				req.ID, err = r.raw()
			}
		case "Leader":
			err = seen(&mask, bLeader)
			if err == nil {
				req.Leader, err = r.raw()
			}
		case "LeaderCommitIndex":
			err = seen(&mask, bLeaderCommitIndex)
			if err == nil {
				req.LeaderCommitIndex, err = r.uint()
			}
		case "PrevLogEntry":
			err = seen(&mask, bPrevLogEntry)
			if err == nil {
				req.PrevLogEntry, err = r.uint()
			}
		case "PrevLogTerm":
			err = seen(&mask, bPrevLogTerm)
			if err == nil {
				req.PrevLogTerm, err = r.uint()
			}
		case "ProtocolVersion":
			err = seen(&mask, bProtocolVersion)
			if err == nil {
				var v int64
				v, err = r.int()
				req.ProtocolVersion = raft.ProtocolVersion(v)
			}
		case "Term":
			err = seen(&mask, bTerm)
			if err == nil {
				req.Term, err = r.uint()
			}
		default:
			err = errFallback
		}
		if err != nil {
			return false, err
		}
	}
	if err := r.done(); err != nil {
		return false, err
	}
	total := len(req.Addr) + len(req.ID) + len(req.Leader)
	for _, l := range req.Entries {
		total += len(l.Data) + len(l.Extensions)
	}
	if mayAlias && 2*total >= len(frame) {
		return true, nil
	}
	// Copy every byte slice out of the frame, with one allocation.
	if total == 0 && req.Addr == nil && req.ID == nil && req.Leader == nil && len(req.Entries) == 0 {
		return false, nil
	}
	s := byteSlab{buf: make([]byte, 0, total)}
	req.Addr, req.ID, req.Leader = s.copy(req.Addr), s.copy(req.ID), s.copy(req.Leader)
	for _, l := range req.Entries {
		l.Data, l.Extensions = s.copy(l.Data), s.copy(l.Extensions)
	}
	return false, nil
}

// decodeEntries reads the Entries array; its byte slices still point into
// the frame.
func decodeEntries(r *reader, maxEntries int) ([]*raft.Log, error) {
	n, err := r.arrayLen()
	if err != nil || n < 0 {
		return nil, err
	}
	if n > maxEntries {
		return nil, fmt.Errorf("%w: %d entries in AppendEntries, limit %d", raft.ErrMessageTooLarge, n, maxEntries)
	}
	// Each entry takes at least 7 bytes; a count the frame cannot hold is
	// malformed, and must not drive the allocations below.
	if n > (len(r.b)-r.i)/7 {
		return nil, errFallback
	}
	logs := make([]raft.Log, n)
	out := make([]*raft.Log, n)
	for i := range logs {
		if err := decodeLog(r, &logs[i]); err != nil {
			return nil, err
		}
		out[i] = &logs[i]
	}
	return out, nil
}

const (
	lAppendedAt = 1 << iota
	lData
	lExtensions
	lIndex
	lTerm
	lType
)

func decodeLog(r *reader, l *raft.Log) error {
	n, err := r.mapLen()
	if err != nil {
		return err
	}
	var mask uint32
	for ; n > 0; n-- {
		k, err := r.key()
		if err != nil {
			return err
		}
		switch string(k) {
		case "AppendedAt":
			err = seen(&mask, lAppendedAt)
			if err == nil {
				l.AppendedAt, err = r.legacyTime()
			}
		case "Data":
			err = seen(&mask, lData)
			if err == nil {
				l.Data, err = r.raw()
			}
		case "Extensions":
			err = seen(&mask, lExtensions)
			if err == nil {
				l.Extensions, err = r.raw()
			}
		case "Index":
			err = seen(&mask, lIndex)
			if err == nil {
				l.Index, err = r.uint()
			}
		case "Term":
			err = seen(&mask, lTerm)
			if err == nil {
				l.Term, err = r.uint()
			}
		case "Type":
			err = seen(&mask, lType)
			if err == nil {
				var v uint64
				v, err = r.uint()
				if err == nil && v > 255 {
					err = errFallback
				}
				l.Type = raft.LogType(v)
			}
		default:
			err = errFallback
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// legacyTime reads a time written with TimeNotBuiltin: nil (zero time) or a
// fixstr holding time.MarshalBinary bytes. Other forms fall back.
func (r *reader) legacyTime() (time.Time, error) {
	var t time.Time
	if r.i >= len(r.b) {
		return t, errFallback
	}
	c := r.b[r.i]
	if c == 0xc0 {
		r.i++
		return t, nil
	}
	if c < 0xa0 || c > 0xbf {
		return t, errFallback
	}
	p, err := r.raw()
	if err != nil {
		return t, err
	}
	if t.UnmarshalBinary(p) != nil {
		return time.Time{}, errFallback
	}
	return t, nil
}

// decodeAppendEntriesResponseFast decodes a reply frame (error string, then
// the response) into resp, which must be zero, and returns the error text.
func decodeAppendEntriesResponseFast(frame []byte, resp *AppendEntriesResponse) (string, error) {
	r := reader{b: frame}
	c, err := r.next()
	if err != nil {
		return "", err
	}
	var rpcErr string
	if c != 0xa0 { // not the common empty string
		r.i--
		p, err := r.raw()
		if err != nil || p == nil {
			return "", errFallback
		}
		rpcErr = string(p)
	}
	if r.i < len(r.b) && r.b[r.i] == 0xc0 {
		r.i++
		return rpcErr, r.done()
	}
	n, err := r.mapLen()
	if err != nil {
		return "", err
	}
	var mask uint32
	for ; n > 0; n-- {
		k, err := r.key()
		if err != nil {
			return "", err
		}
		switch string(k) {
		case "Addr":
			err = seen(&mask, bAddr)
			if err == nil {
				resp.Addr, err = r.raw()
			}
		case "ID":
			err = seen(&mask, bID)
			if err == nil {
				resp.ID, err = r.raw()
			}
		case "LastLog":
			err = seen(&mask, bLastLog)
			if err == nil {
				resp.LastLog, err = r.uint()
			}
		case "NoRetryBackoff":
			err = seen(&mask, bNoRetryBackoff)
			if err == nil {
				resp.NoRetryBackoff, err = r.bool()
			}
		case "ProtocolVersion":
			err = seen(&mask, bProtocolVersion)
			if err == nil {
				var v int64
				v, err = r.int()
				resp.ProtocolVersion = raft.ProtocolVersion(v)
			}
		case "Success":
			err = seen(&mask, bSuccess)
			if err == nil {
				resp.Success, err = r.bool()
			}
		case "Term":
			err = seen(&mask, bTerm)
			if err == nil {
				resp.Term, err = r.uint()
			}
		default:
			err = errFallback
		}
		if err != nil {
			return "", err
		}
	}
	if err := r.done(); err != nil {
		return "", err
	}
	if resp.Addr != nil || resp.ID != nil {
		s := byteSlab{buf: make([]byte, 0, len(resp.Addr)+len(resp.ID))}
		resp.Addr, resp.ID = s.copy(resp.Addr), s.copy(resp.ID)
	}
	return rpcErr, nil
}
