package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// maxValue bounds a request body: raft.SuggestedMaxDataSize for the value,
// as one log entry carries it.
const maxValue = raft.SuggestedMaxDataSize

// hdrForwarded marks a request a follower forwarded to the leader; the
// receiver never forwards it again (no loops while leadership moves).
const hdrForwarded = "X-Kvstore-Forwarded-By"

// readTimeout bounds a linearizable read's wait for the read index.
const readTimeout = 5 * time.Second

// routes is the HTTP API.
func (n *node) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /kv/{key...}", n.handlePut)
	mux.HandleFunc("POST /kv/{key...}", n.handlePut)
	mux.HandleFunc("GET /kv/{key...}", n.handleGet)
	mux.HandleFunc("DELETE /kv/{key...}", n.handleDelete)
	mux.HandleFunc("GET /kv", n.handleKeys)
	mux.HandleFunc("POST /join", n.handleJoin)
	mux.HandleFunc("POST /leave", n.handleLeave)
	mux.HandleFunc("GET /status", n.handleStatus)
	mux.Handle("GET /metrics", n.exp.Handler())
	return mux
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// writeError writes {"error": ...} on one line with status code.
func writeError(w http.ResponseWriter, code int, format string, args ...interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}

// raftErrorStatus maps an error of a Raft operation to a status code.
func raftErrorStatus(err error) int {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, raft.ErrEnqueueTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, raft.ErrUnknownServer):
		return http.StatusNotFound
	case errors.Is(err, errConflict):
		return http.StatusConflict
	default:
		return http.StatusServiceUnavailable
	}
}

// readBody reads a bounded body; on error it has answered the request.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxValue))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body over %d bytes", maxValue)
		} else {
			writeError(w, http.StatusBadRequest, "reading body: %v", err)
		}
		return nil, false
	}
	return b, true
}

// leaderHTTP returns the leader's ID and HTTP address, if both are known.
func (n *node) leaderHTTP() (id, addr string, ok bool) {
	_, lid := n.raft.LeaderWithID()
	if lid == "" {
		return "", "", false
	}
	addr, ok = n.fsm.member(string(lid))
	return string(lid), addr, ok
}

// forward relays a request to the leader's API and its answer back, and
// returns the leader's status code (0 if it could not be reached).
func (n *node) forward(w http.ResponseWriter, r *http.Request, body []byte) int {
	if by := r.Header.Get(hdrForwarded); by != "" {
		writeError(w, http.StatusServiceUnavailable, "not the leader (forwarded here by %s while leadership moved); retry", by)
		return 0
	}
	lid, addr, ok := n.leaderHTTP()
	if !ok || lid == n.opts.id {
		writeError(w, http.StatusServiceUnavailable, "no leader known; retry")
		return 0
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, n.scheme()+"://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return 0
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set(hdrForwarded, n.opts.id)
	resp, err := n.client.Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, "forwarding to the leader %s at %s: %v", lid, addr, err)
		return 0
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "X-Raft-Index", "Location"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set("X-Kvstore-Leader", lid)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return resp.StatusCode
}

// applyCommand proposes c on this node (the leader) and waits for it to be
// applied. It returns the entry's index.
func (n *node) applyCommand(ctx context.Context, c command) (uint64, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return 0, err
	}
	f := n.raft.ApplyContext(ctx, data)
	if err := f.Error(); err != nil {
		return 0, err
	}
	if err, ok := f.Response().(error); ok {
		return 0, err
	}
	return f.Index(), nil
}

// write applies c on the leader, or forwards the request to it.
func (n *node) write(w http.ResponseWriter, r *http.Request, body []byte, c command) {
	if n.raft.State() != raft.Leader {
		n.forward(w, r, body)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	idx, err := n.applyCommand(ctx, c)
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		// Not appended: safe to hand to the new leader.
		n.forward(w, r, body)
	case errors.Is(err, raft.ErrLeadershipLost):
		writeError(w, http.StatusServiceUnavailable, "leadership lost while committing: the write may or may not have been applied; retry")
	case err != nil:
		writeError(w, raftErrorStatus(err), "%v", err)
	default:
		w.Header().Set("X-Raft-Index", strconv.FormatUint(idx, 10))
		writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
	}
}

func (n *node) handlePut(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "empty key")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	n.write(w, r, body, command{Op: opSet, Key: key, Value: body})
}

func (n *node) handleDelete(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "empty key")
		return
	}
	n.write(w, r, nil, command{Op: opDelete, Key: key})
}

// readIndex makes a read linearizable unless the query says ?stale: it
// waits until this node's FSM has applied everything committed before the
// request (Raft's ReadIndex: on a follower one round trip to the leader, no
// log write). It returns false after answering the request with an error.
func (n *node) readIndex(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Query().Has("stale") {
		w.Header().Set("X-Raft-Index", strconv.FormatUint(n.raft.AppliedIndex(), 10))
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	idx, err := n.raft.ReadIndex(ctx)
	if err != nil {
		writeError(w, raftErrorStatus(err), "linearizable read: %v (add ?stale for a local read)", err)
		return false
	}
	w.Header().Set("X-Raft-Index", strconv.FormatUint(idx, 10))
	return true
}

func (n *node) handleGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		n.handleKeys(w, r)
		return
	}
	if !n.readIndex(w, r) {
		return
	}
	v, ok := n.fsm.get(key)
	if !ok {
		writeError(w, http.StatusNotFound, "no key %q", key)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(v)
}

func (n *node) handleKeys(w http.ResponseWriter, r *http.Request) {
	if !n.readIndex(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, n.fsm.keys())
}

func (n *node) handleJoin(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req joinRequest
	if err := json.Unmarshal(body, &req); err != nil || req.ID == "" || req.RaftAddr == "" || req.HTTPAddr == "" {
		writeError(w, http.StatusBadRequest, `want {"id": ..., "raft_addr": ..., "http_addr": ...}`)
		return
	}
	if err := checkAdvertisable(req.RaftAddr); err != nil {
		writeError(w, http.StatusBadRequest, "raft_addr %q: %v", req.RaftAddr, err)
		return
	}
	if err := checkAdvertisable(req.HTTPAddr); err != nil {
		writeError(w, http.StatusBadRequest, "http_addr %q: %v", req.HTTPAddr, err)
		return
	}
	if n.raft.State() != raft.Leader {
		n.forward(w, r, body)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*opTimeout)
	defer cancel()
	idx, err := n.addMember(ctx, req)
	if err != nil {
		writeError(w, raftErrorStatus(err), "join: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
}

func (n *node) handleLeave(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req leaveRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, `want {"id": ...} or an empty body (this server)`)
			return
		}
	}
	if req.ID == "" {
		req.ID = n.opts.id
		body, _ = json.Marshal(req) // the leader must not read "" as itself
	}
	if n.raft.State() != raft.Leader {
		if n.forward(w, r, body) == http.StatusOK && req.ID == n.opts.id {
			n.markLeft()
		}
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*opTimeout)
	defer cancel()
	idx, err := n.removeMember(ctx, req.ID)
	if err != nil {
		writeError(w, raftErrorStatus(err), "leave: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
	if req.ID == n.opts.id {
		n.markLeft()
	}
}
