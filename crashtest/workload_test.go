package crashtest

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Client workload: appends of unique tokens to a few shared keys (the keys
// move on every keyEpoch, so no history of one key grows without bound),
// linearizable reads of them, and puts of write-once keys.
const (
	appendKeys   = 5
	keyEpoch     = 15 * time.Second
	clientWait   = 5 * time.Second // a request's timeout: past it, unknown
	clientPause  = 20 * time.Millisecond
	clientPutPct = 10
	clientGetPct = 40
)

// recorder collects the history and the acknowledged writes.
type recorder struct {
	start time.Time
	mu    struct {
		sync.Mutex
		ops []porcupine.Operation
		// ackedTokens and unknownTokens: appended tokens by key.
		ackedTokens   map[string]map[string]bool
		unknownTokens map[string]map[string]bool
		// ackedPuts and unknownPuts: write-once keys and their values.
		ackedPuts   map[string]string
		unknownPuts map[string]string
		appendKeys  map[string]bool
		acked       int // acknowledged writes
		unknown     int // writes with an unknown outcome
		refused     int // 421s and requests never sent
	}
}

func newRecorder() *recorder {
	r := &recorder{start: time.Now()}
	r.mu.ackedTokens = map[string]map[string]bool{}
	r.mu.unknownTokens = map[string]map[string]bool{}
	r.mu.ackedPuts = map[string]string{}
	r.mu.unknownPuts = map[string]string{}
	r.mu.appendKeys = map[string]bool{}
	return r
}

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

// record adds a finished operation; ret is unknownReturn for an unknown
// write.
func (r *recorder) record(client int, in kvInput, out kvOutput, call, ret int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.ops = append(r.mu.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	if in.Op == "get" {
		return
	}
	if out.Unknown {
		r.mu.unknown++
	} else {
		r.mu.acked++
	}
	switch {
	case in.Op == "put" && out.Unknown:
		r.mu.unknownPuts[in.Key] = in.Value
	case in.Op == "put":
		r.mu.ackedPuts[in.Key] = in.Value
	case out.Unknown:
		addToken(r.mu.unknownTokens, in.Key, in.Value)
	default:
		addToken(r.mu.ackedTokens, in.Key, in.Value)
	}
}

func addToken(m map[string]map[string]bool, key, tok string) {
	if m[key] == nil {
		m[key] = map[string]bool{}
	}
	m[key][tok] = true
}

func (r *recorder) refusedOne() {
	r.mu.Lock()
	r.mu.refused++
	r.mu.Unlock()
}

// client issues operations until ctx ends. It looks for the leader by the
// 421 answers' X-Leader-ID and by trying the next node.
func client(ctx context.Context, c *cluster, rec *recorder, id int, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	node := rng.Intn(len(c.nodes))
	for seq := 0; ctx.Err() == nil; seq++ {
		key := fmt.Sprintf("a%d.%d", int(time.Since(rec.start)/keyEpoch), rng.Intn(appendKeys))
		var in kvInput
		switch p := rng.Intn(100); {
		case p < clientPutPct:
			in = kvInput{Op: "put", Key: fmt.Sprintf("p%d.%d", id, seq), Value: fmt.Sprintf("v%d.%d", id, seq)}
		case p < clientPutPct+clientGetPct:
			in = kvInput{Op: "get", Key: key}
		default:
			in = kvInput{Op: "append", Key: key, Value: fmt.Sprintf("%d.%d,", id, seq)}
			rec.mu.Lock()
			rec.mu.appendKeys[key] = true
			rec.mu.Unlock()
		}
		method, q := "POST", url.Values{"key": {in.Key}}
		if in.Op == "get" {
			method = "GET"
		} else {
			q.Set("value", in.Value)
		}
		rctx, cancel := context.WithTimeout(ctx, clientWait)
		call := rec.now()
		code, body, hdr, err := c.call(rctx, node, method, "/"+in.Op, q)
		ret := rec.now()
		cancel()
		switch {
		case err == nil && code == http.StatusOK:
			rec.record(id, in, kvOutput{Value: body}, call, ret)
			continue
		case err == nil && code == http.StatusMisdirectedRequest, notSent(err):
			// Nothing happened: try the leader it names, or the next node.
			rec.refusedOne()
			if l := c.index(hdrGet(hdr, "X-Leader-ID")); l >= 0 && l != node {
				node = l
			} else {
				node = (node + 1) % len(c.nodes)
			}
		default:
			// A timeout, a lost connection, 503: a write may have happened.
			if in.Op != "get" {
				rec.record(id, in, kvOutput{Unknown: true}, call, unknownReturn)
			}
			node = (node + 1) % len(c.nodes)
		}
		// Pace retries while there is no leader (load, not synchronisation).
		t := time.NewTimer(clientPause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func hdrGet(h http.Header, k string) string {
	if h == nil {
		return ""
	}
	return h.Get(k)
}
