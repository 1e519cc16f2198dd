package differential

import (
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/transport"
)

// What confirms VerifyLeader (docs/migrating.md): hashicorp/raft counts the
// next reply from a follower to any request, one already in flight when
// VerifyLeader was called included; Pontoon only replies to a heartbeat
// round sent after the call. The test holds every heartbeat's reply for
// replyDelay after the follower answered it (its way back, slow), keeps
// heartbeats in flight back to back with a second reader, and times
// VerifyLeader calls made at random moments against them. A reply that left
// the follower before a call cannot show the leader still led after it; on
// Pontoon no call may return sooner than replyDelay, while hashicorp/raft's
// return when the first reply in flight arrives, most of them in under
// replyDelay/2 (40 of 40 in the runs so far).

// replyDelay is how long each heartbeat's reply is held.
const replyDelay = 30 * time.Millisecond

// hSlowReplies is a hashicorp/raft transport whose heartbeat replies take
// replyDelay once slow is set.
type hSlowReplies struct {
	*hraft.InmemTransport
	slow *atomic.Bool
}

func (t *hSlowReplies) AppendEntries(id hraft.ServerID, target hraft.ServerAddress, args *hraft.AppendEntriesRequest, resp *hraft.AppendEntriesResponse) error {
	err := t.InmemTransport.AppendEntries(id, target, args, resp)
	if len(args.Entries) == 0 && t.slow.Load() {
		time.Sleep(replyDelay) // the reply on its way back
	}
	return err
}

// pSlowReplies is hSlowReplies for Pontoon.
type pSlowReplies struct {
	*transport.InmemTransport
	slow *atomic.Bool
}

func (t *pSlowReplies) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *transport.AppendEntriesRequest, resp *transport.AppendEntriesResponse) error {
	err := t.InmemTransport.AppendEntries(id, target, args, resp)
	if len(args.Entries) == 0 && t.slow.Load() {
		time.Sleep(replyDelay)
	}
	return err
}

// verifyLatencies makes calls VerifyLeader calls on the leader of ns, each
// at a random moment against a background reader's back-to-back ones, with
// heartbeat replies slowed (slow), and returns how long each took.
func verifyLatencies(t *testing.T, ns []node, slow *atomic.Bool, calls int) []time.Duration {
	t.Helper()
	l := leaderOf(t, ns)
	waitFor(t, "the leader's no-op applied", func() bool { return l.appliedIndex() >= 2 })
	if err := l.verifyLeader(); err != nil {
		t.Fatalf("VerifyLeader before the test: %v", err)
	}
	slow.Store(true)
	defer slow.Store(false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			l.verifyLeader()
		}
	}()
	defer wg.Wait()
	defer close(stop)
	rng := rand.New(rand.NewSource(1))
	out := make([]time.Duration, 0, calls)
	for i := 0; i < calls; i++ {
		// NB: not a synchronisation: it puts the call at a random point of
		// the heartbeat in flight (without it, each call would follow the
		// reply that answered the one before, in step with the rounds).
		time.Sleep(time.Duration(rng.Int63n(int64(replyDelay))))
		start := time.Now()
		if err := l.verifyLeader(); err != nil {
			t.Fatalf("VerifyLeader %d: %v", i, err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

func TestVerifyLeaderConfirmation(t *testing.T) {
	const calls = 40
	t.Run("hashicorp", func(t *testing.T) {
		var slow atomic.Bool
		ns := newHashicorpClusterOn(t, 3, false, func(it *hraft.InmemTransport) hraft.Transport {
			return &hSlowReplies{InmemTransport: it, slow: &slow}
		})
		lat := verifyLatencies(t, ns, &slow, calls)
		fast := 0
		for _, d := range lat {
			if d < replyDelay/2 {
				fast++
			}
		}
		// NB: each call lands at a random point of the two followers'
		// replies in flight and returns at the first, so at least half
		// come in under replyDelay/2: none in 40 would be a chance below
		// 1e-12.
		if fast == 0 {
			t.Fatalf("no VerifyLeader returned in under %v: %v; hashicorp/raft confirms with a reply already in flight", replyDelay/2, lat)
		}
		t.Logf("hashicorp/raft: %d of %d VerifyLeader calls returned in under %v (a reply to a heartbeat sent before the call)", fast, calls, replyDelay/2)
	})
	t.Run("pontoon", func(t *testing.T) {
		var slow atomic.Bool
		ns := newPontoonClusterOn(t, 3, false, func(it *transport.InmemTransport) transport.Transport {
			return &pSlowReplies{InmemTransport: it, slow: &slow}
		})
		for i, d := range verifyLatencies(t, ns, &slow, calls) {
			if d < replyDelay {
				t.Fatalf("VerifyLeader %d returned after %v, under the %v a heartbeat sent after the call takes: it counted a reply to one sent before", i, d, replyDelay)
			}
		}
	})
}
