package differential

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// obs records what one engine returned, step by step, in a form the two
// engines can be compared on.
type obs struct {
	e     engine
	steps []string
	vals  map[string]string
}

func newObs(e engine) *obs { return &obs{e: e, vals: map[string]string{}} }

// tcpAddr matches a loopback TCP address: ports differ from run to run.
var tcpAddr = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

func (o *obs) set(step, val string) {
	val = tcpAddr.ReplaceAllString(val, "127.0.0.1:port")
	if _, dup := o.vals[step]; dup {
		panic("duplicate step " + step)
	}
	o.steps = append(o.steps, step)
	o.vals[step] = val
}

// errStr gives an error's identity and text: "ok", or "<Sentinel>: text"
// when err == the library's sentinel, or "(not a sentinel): text".
func (o *obs) errStr(err error) string {
	if err == nil {
		return "ok"
	}
	name := o.e.errName(err)
	if name == "" {
		name = "(not a sentinel)"
	}
	return name + ": " + err.Error()
}

func (o *obs) err(step string, err error) { o.set(step, o.errStr(err)) }

func (o *obs) idx(step string, idx uint64, err error) {
	if err != nil {
		o.set(step, o.errStr(err))
		return
	}
	o.set(step, fmt.Sprintf("ok index=%d", idx))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaderOf waits until exactly one running node leads and every other one
// names it, and returns it.
func leaderOf(t *testing.T, ns []node) node {
	t.Helper()
	var l node
	waitFor(t, "a leader known to all", func() bool {
		l = nil
		for _, n := range ns {
			if n.state() == "Leader" {
				if l != nil {
					return false
				}
				l = n
			}
		}
		if l == nil {
			return false
		}
		for _, n := range ns {
			if _, id := n.leader(); id != l.id() {
				return false
			}
		}
		return true
	})
	return l
}

func waitApplied(t *testing.T, ns []node, idx uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("index %d applied everywhere", idx), func() bool {
		for _, n := range ns {
			if n.appliedIndex() < idx {
				return false
			}
		}
		return true
	})
}

// statsShape describes Stats: its keys, the values that must match, and the
// form of last_contact.
func statsShape(s map[string]string) string {
	var keys []string
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	contact := s["last_contact"]
	switch contact {
	case "0", "never", "":
	default:
		if _, err := time.ParseDuration(contact); err == nil {
			contact = "<duration>"
		}
	}
	return fmt.Sprintf("keys=%s state=%s num_peers=%s latest_configuration_index=%s protocol=%s/%s/%s snapshot_version=%s/%s last_contact=%s latest_configuration=%s",
		strings.Join(keys, ","), s["state"], s["num_peers"], s["latest_configuration_index"],
		s["protocol_version"], s["protocol_version_min"], s["protocol_version_max"],
		s["snapshot_version_min"], s["snapshot_version_max"], contact, s["latest_configuration"])
}

// indexShape compares a node's indexes with the last write's.
func indexShape(n node, last uint64) string {
	rel := func(v uint64) string {
		switch {
		case v == last:
			return "=last"
		case v < last:
			return "<last"
		}
		return ">last"
	}
	return fmt.Sprintf("LastIndex%s AppliedIndex%s CommitIndex%s", rel(n.lastIndex()), rel(n.appliedIndex()), rel(n.commitIndex()))
}

// scenarioSingle drives a one-server cluster.
func scenarioSingle(t *testing.T, e engine) *obs {
	o := newObs(e)
	ns := e.newCluster(t, 1)
	l := leaderOf(t, ns)
	waitFor(t, "the leader's no-op applied", func() bool { return l.appliedIndex() >= 2 })

	_, err := l.snapshot()
	o.err("snapshot, nothing applied since start", err)
	idx, resp, err := l.apply("a")
	o.set("apply on leader", fmt.Sprintf("%s index=%d resp=%v", o.errStr(err), idx, resp))
	// NB: hashicorp/raft publishes AppliedIndex after handing the entry to
	// its FSM goroutine, which may resolve the future first: wait for it.
	waitApplied(t, ns, idx)
	o.set("indexes after apply", indexShape(l, idx))
	bidx, err := l.barrier()
	o.idx("barrier", bidx, err)
	o.err("verify leader", l.verifyLeader())
	sidx, err := l.snapshot()
	o.idx("snapshot", sidx, err)
	sidx, err = l.snapshot()
	o.idx("snapshot, nothing new since the last", sidx, err)
	servers, cidx, err := l.configuration()
	o.set("configuration", fmt.Sprintf("%s %s", o.errStr(err), servers))
	o.set("configuration index", fmt.Sprint(cidx))
	o.set("stats on leader", statsShape(l.stats()))

	vidx, err := l.addVoter("n9", "n9-addr", 999)
	o.idx("add voter, stale prevIndex", vidx, err)
	vidx, err = l.addNonvoter("n9", "n9-addr", 0)
	o.idx("add nonvoter", vidx, err)
	_, err = l.snapshot()
	o.err("snapshot right after a membership change", err)
	bidx, err = l.barrier()
	o.idx("barrier after the change", bidx, err)
	sidx, err = l.snapshot()
	o.idx("snapshot after the barrier", sidx, err)
	vidx, err = l.addNonvoter("n9", "n9-addr2", 0)
	o.idx("add nonvoter again, new address", vidx, err)
	servers, _, _ = l.configuration()
	o.set("configuration after nonvoter", servers)
	vidx, err = l.demoteVoter("n9", 0)
	o.idx("demote a nonvoter", vidx, err)
	vidx, err = l.removeServer("n9", 0)
	o.idx("remove server", vidx, err)
	vidx, err = l.removeServer("absent", 0)
	o.idx("remove an absent server", vidx, err)
	o.err("add peer (deprecated)", l.addPeer("x-addr"))
	o.err("remove peer (deprecated)", l.removePeer("x-addr"))
	o.err("leadership transfer, no other voter", l.transfer())
	o.err("leadership transfer to itself", l.transferTo(l.id(), l.addr()))
	o.err("bootstrap a running cluster", l.bootstrapAgain())
	o.set("String", l.str())
	bidx, err = l.barrier()
	o.idx("barrier before snapshot and Restore", bidx, err)
	moved, err := l.snapshotAndRestore()
	o.set("snapshot then Restore it", fmt.Sprintf("%s LastIndex moved by %d", o.errStr(err), moved))
	_, err = f0apply(l)
	o.err("apply after Restore", err)
	o.set("state before shutdown", l.state())

	o.err("shutdown", l.shutdown())
	o.err("shutdown again", l.shutdown())
	o.set("state after shutdown", l.state())
	_, _, err = l.apply("b")
	o.err("apply after shutdown", err)
	_, err = l.barrier()
	o.err("barrier after shutdown", err)
	// NB: not VerifyLeader nor LeadershipTransfer: on hashicorp/raft they
	// may block for ever after Shutdown (the request can land in a buffered
	// queue nobody reads); Pontoon's return ErrRaftShutdown
	// (TestPontoonAfterShutdown).
	_, err = l.snapshot()
	o.err("snapshot after shutdown", err)
	_, err = l.addVoter("n8", "n8-addr", 0)
	o.err("add voter after shutdown", err)
	servers, _, err = l.configuration()
	o.set("configuration after shutdown", fmt.Sprintf("%s %s", o.errStr(err), servers))
	return o
}

// scenarioThree drives a three-server cluster, with calls on followers.
func scenarioThree(t *testing.T, e engine) *obs {
	o := newObs(e)
	ns := e.newCluster(t, 3)
	l := leaderOf(t, ns)
	var fs []node
	for _, n := range ns {
		if n != l {
			fs = append(fs, n)
		}
	}
	idx, resp, err := l.apply("x")
	o.set("apply on leader", fmt.Sprintf("%s resp=%v", o.errStr(err), resp))
	waitApplied(t, ns, idx)
	f := fs[0]
	o.set("indexes on a follower", indexShape(f, idx))

	_, _, err = f.apply("y")
	o.err("apply on follower", err)
	_, err = f.barrier()
	o.err("barrier on follower", err)
	o.err("verify leader on follower", f.verifyLeader())
	_, err = f.addVoter("n9", "n9-addr", 0)
	o.err("add voter on follower", err)
	_, err = f.addNonvoter("n9", "n9-addr", 0)
	o.err("add nonvoter on follower", err)
	_, err = f.demoteVoter(l.id(), 0)
	o.err("demote voter on follower", err)
	_, err = f.removeServer(l.id(), 0)
	o.err("remove server on follower", err)
	_, err = f.snapshot()
	o.err("snapshot on follower", err)
	o.err("leadership transfer on follower", f.transfer())
	o.err("leadership transfer to server on follower", f.transferTo(fs[1].id(), fs[1].addr()))
	o.set("stats on follower", statsShape(f.stats()))
	o.set("stats on leader", statsShape(l.stats()))
	servers, _, err := f.configuration()
	o.set("configuration on follower", fmt.Sprintf("%s %s", o.errStr(err), servers))
	_, lid := f.leader()
	o.set("follower knows the leader", fmt.Sprint(lid == l.id()))

	o.err("leadership transfer to a follower", l.transferTo(f.id(), f.addr()))
	nl := leaderOf(t, ns)
	o.set("the target leads", fmt.Sprint(nl == f))
	o.set("old leader state", l.state())
	idx, _, err = nl.apply("z")
	o.err("apply on the new leader", err)
	waitApplied(t, ns, idx)
	o.err("leadership transfer, any voter", nl.transfer())
	nl2 := leaderOf(t, ns)
	o.set("leadership moved", fmt.Sprint(nl2 != nl))
	_, _, err = nl.apply("w")
	o.err("apply on the previous leader", err)

	var other node
	for _, n := range ns {
		if n != nl2 {
			other = n
			break
		}
	}
	// Servers are named by role: which ID leads differs from run to run.
	roles := map[string]string{nl2.id(): "leader", other.id(): "other"}
	for _, n := range ns {
		if roles[n.id()] == "" {
			roles[n.id()] = "third"
		}
	}
	_, err = nl2.demoteVoter(other.id(), 0)
	o.err("demote a voter", err)
	servers, _, _ = nl2.configuration()
	o.set("configuration after demote", byRole(servers, roles))
	o.set("stats num_peers after demote", nl2.stats()["num_peers"])
	_, err = nl2.removeServer(other.id(), 0)
	o.err("remove the demoted server", err)
	servers, _, _ = nl2.configuration()
	o.set("configuration after remove", byRole(servers, roles))
	o.err("verify leader with two voters", nl2.verifyLeader())
	return o
}

// intended lists the steps where Pontoon differs from hashicorp/raft on
// purpose, with the reason (docs/migrating.md says the same).
var intended = map[string]string{
	"configuration index": "hashicorp's GetConfiguration().Index() is always 0 (a known quirk); " +
		"Pontoon returns the index of the configuration entry, which is what AddVoter's prevIndex expects",
}

// pending lists differences other work items of issue 12 remove (the
// sentinel audit); they are reported, not failed on, until those land.
var pending = map[string]string{}

func compare(t *testing.T, h, p *obs) {
	t.Helper()
	for _, step := range h.steps {
		hv, pv := h.vals[step], p.vals[step]
		if hv == pv {
			t.Logf("same  %-45s %s", step, hv)
			continue
		}
		if why, ok := intended[step]; ok {
			t.Logf("DIFF (intended) %s:\n\thashicorp: %s\n\tpontoon:   %s\n\twhy: %s", step, hv, pv, why)
			continue
		}
		if why, ok := pending[step]; ok {
			t.Logf("DIFF (pending) %s:\n\thashicorp: %s\n\tpontoon:   %s\n\t%s", step, hv, pv, why)
			continue
		}
		t.Errorf("%s:\n\thashicorp: %s\n\tpontoon:   %s", step, hv, pv)
	}
	if len(h.steps) != len(p.steps) {
		t.Errorf("%d steps on hashicorp, %d on pontoon", len(h.steps), len(p.steps))
	}
}

func TestDifferentialSingleServer(t *testing.T) {
	h := scenarioSingle(t, hashicorp)
	p := scenarioSingle(t, pontoon)
	compare(t, h, p)
}

func TestDifferentialThreeServers(t *testing.T) {
	h := scenarioThree(t, hashicorp)
	p := scenarioThree(t, pontoon)
	compare(t, h, p)
}

// After Shutdown, VerifyLeader and LeadershipTransfer fail at once with
// ErrRaftShutdown on Pontoon (hashicorp/raft's may block for ever, so the
// differential scenario leaves them out).
func TestPontoonAfterShutdown(t *testing.T) {
	ns := pontoon.newCluster(t, 1)
	l := leaderOf(t, ns)
	if err := l.shutdown(); err != nil {
		t.Fatal(err)
	}
	done := make(chan [2]error, 1)
	go func() { done <- [2]error{l.verifyLeader(), l.transfer()} }()
	select {
	case errs := <-done:
		for i, err := range errs {
			if pontoon.errName(err) != "ErrRaftShutdown" {
				t.Errorf("call %d after Shutdown: %v, want ErrRaftShutdown", i, err)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("VerifyLeader or LeadershipTransfer blocked after Shutdown")
	}
}

// byRole rewrites a configuration ("id/addr/suffrage,...") with each ID
// replaced by its role, sorted.
func byRole(servers string, roles map[string]string) string {
	var out []string
	for _, s := range strings.Split(servers, ",") {
		parts := strings.Split(s, "/")
		if len(parts) != 3 {
			out = append(out, s)
			continue
		}
		out = append(out, roles[parts[0]]+"/"+parts[2])
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func f0apply(n node) (uint64, error) {
	idx, _, err := n.apply("after-restore")
	return idx, err
}

// The three-server scenario again over TCP (each library's NetworkTransport
// on loopback): errors and results cross the wire.
func TestDifferentialThreeServersTCP(t *testing.T) {
	h := hashicorp
	h.newCluster = newHashicorpTCPCluster
	p := pontoon
	p.newCluster = newPontoonTCPCluster
	compare(t, scenarioThree(t, h), scenarioThree(t, p))
}
