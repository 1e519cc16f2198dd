package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// startSingle runs one bootstrapped server in this process on free
// loopback ports and returns it with its API's base URL.
func startSingle(t *testing.T) (*node, string) {
	t.Helper()
	n, base, stop := startSingleIn(t, singleOptions(t.TempDir(), "bolt"))
	t.Cleanup(stop)
	return n, base
}

// singleOptions are the options of a bootstrapped single server in dir.
func singleOptions(dir, logStore string) *options {
	return &options{id: "solo", raftAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0", dataDir: dir, bootstrap: true,
		snapshotThreshold: 8192, snapshotInterval: 120 * time.Second, trailingLogs: 10240, logStore: logStore}
}

// startSingleIn is startSingle with options o (singleOptions); stop shuts
// the server down.
func startSingleIn(t *testing.T, o *options) (n *node, base string, stop func()) {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: "kvstore", Level: hclog.Warn, Output: io.Discard})
	n, err := startNode(o, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.maintain(ctx, nil)
	}()
	stop = func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := n.shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	base = "http://" + n.httpAddr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if addr, ok := n.fsm.member("solo"); ok && addr == n.httpAddr {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatal("the single server did not lead and record its address")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n, base, stop
}

func call(t *testing.T, method, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The API's answers, bad input included, on one server.
func TestAPI(t *testing.T) {
	defer http.DefaultClient.CloseIdleConnections()
	_, base := startSingle(t)
	for _, tc := range []struct {
		method, path string
		body         []byte
		code         int
		contains     string
	}{
		{"PUT", "/kv/a/b", []byte("v1"), 200, `"index"`}, // keys may hold "/"
		{"GET", "/kv/a/b", nil, 200, "v1"},
		{"GET", "/kv/a/b?stale", nil, 200, "v1"},
		{"GET", "/kv/missing", nil, 404, `no key \"missing\"`},
		{"PUT", "/kv/", []byte("x"), 400, "empty key"},
		{"PUT", "/kv/big", bytes.Repeat([]byte("x"), maxValue+1), 413, "body over"},
		{"PUT", "/kv/c", nil, 200, `"index"`}, // an empty value is a value
		{"GET", "/kv", nil, 200, `"a/b"`},
		{"DELETE", "/kv/a/b", nil, 200, `"index"`},
		{"GET", "/kv/a/b", nil, 404, "no key"},
		{"POST", "/join", []byte("{"), 400, "want {"},
		{"POST", "/join", []byte(`{"id":"x","raft_addr":"0.0.0.0:1","http_addr":"127.0.0.1:2"}`), 400, "raft_addr"},
		{"POST", "/join", []byte(`{"id":"x","raft_addr":"127.0.0.1:1","http_addr":"nonsense"}`), 400, "http_addr"},
		{"POST", "/leave", []byte(`{"id":"nobody"}`), 404, "not in the configuration"},
		{"POST", "/leave", []byte("[1]"), 400, "want"},
		{"GET", "/status", nil, 200, `"role": "Leader"`},
		{"GET", "/metrics", nil, 200, "raft_apply"},
		{"PATCH", "/kv/a", nil, 405, ""},
	} {
		code, body := call(t, tc.method, base+tc.path, tc.body)
		if code != tc.code || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s: %d %.200s; want %d with %q", tc.method, tc.path, code, body, tc.code, tc.contains)
		}
	}

	var st status
	_, body := call(t, "GET", base+"/status", nil)
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Leader == nil || st.Leader.ID != "solo" || len(st.Configuration) != 1 || st.Configuration[0].HTTPAddr == "" ||
		st.Keys != 1 || st.AppliedIndex < 3 {
		t.Errorf("status: %s", body)
	}
}

// A request forwarded once is not forwarded again: a server that is not the
// leader answers 503 instead of bouncing it on.
func TestForwardedRequestIsNotForwardedAgain(t *testing.T) {
	defer http.DefaultClient.CloseIdleConnections()
	n, base := startSingle(t)
	// The receiving end of a forward, as a follower would reach it.
	req, _ := http.NewRequest("PUT", base+"/kv/x", nil)
	req.Header.Set(hdrForwarded, "other")
	rec := httptest.NewRecorder()
	if got := n.forward(rec, req, nil); got != 0 || rec.Code != http.StatusServiceUnavailable ||
		!strings.Contains(rec.Body.String(), "forwarded here by other") {
		t.Fatalf("forward of a forwarded request: %d %d %s", got, rec.Code, rec.Body.String())
	}
}
