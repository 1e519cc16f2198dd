package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	raft "github.com/pontoon-raft/raft"
)

// joinRequest is the body of POST /join.
type joinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// leaveRequest is the body of POST /leave; an empty ID means the server
// that received the request.
type leaveRequest struct {
	ID string `json:"id"`
}

// opTimeout bounds one Raft operation started by a request.
const opTimeout = 10 * time.Second

// maintain runs until ctx is done. It asks the -join addresses for
// membership until this server is in the configuration, and it keeps this
// server's HTTP address in the replicated member table (so other servers
// can forward clients to it when it leads): the leader writes its own, a
// follower asks the leader with the same idempotent POST /join. A server
// that Raft shut down (removed while leader) is reported on n.left.
func (n *node) maintain(ctx context.Context, joinAddrs []string) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if n.raft.State() == raft.Shutdown {
			n.markLeft()
			return
		}
		n.syncSelf(ctx, joinAddrs)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.raft.LeaderCh():
		}
	}
}

// syncSelf does one round of maintain's work.
func (n *node) syncSelf(ctx context.Context, joinAddrs []string) {
	raftAddr, member, err := n.selfInConfiguration()
	if err != nil {
		return
	}
	httpAddr, recorded := n.fsm.member(n.opts.id)
	if member && raftAddr == n.raftAddr && recorded && httpAddr == n.httpAddr {
		n.wasMember = true
		return
	}
	moved := member && raftAddr != n.raftAddr
	req := joinRequest{ID: n.opts.id, RaftAddr: n.raftAddr, HTTPAddr: n.httpAddr}
	switch {
	case ((!member && !n.wasMember) || moved) && len(joinAddrs) > 0:
		// Not a member yet (only until the first success: a server removed
		// later stays out), or restarted on another Raft address, which the
		// leader cannot reach to tell it anything: ask the -join servers.
		for _, a := range joinAddrs {
			err = n.postJoin(ctx, strings.TrimSpace(a), req)
			if err == nil {
				n.logger.Info("joined the cluster", "via", a, "raft_addr", n.raftAddr)
				n.wasMember = true
				return
			}
		}
		// The first attempts often race the cluster's start: quiet for 10s.
		n.joinFailures++
		log := n.logger.Info
		if n.joinFailures > 10 {
			log = n.logger.Warn
		}
		log("cannot join yet; retrying", "join", strings.Join(joinAddrs, ","), "error", err)
	case moved:
		if n.joinFailures++; n.joinFailures%30 == 1 {
			n.logger.Warn("the configuration has this server at another Raft address; give -join to be re-added at this one",
				"configured", raftAddr, "listening", n.raftAddr)
		}
	case !member:
		// Not (or no longer) a member and nowhere to ask: wait to be added.
	case n.raft.State() == raft.Leader:
		n.wasMember = true
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		if _, err := n.applyCommand(cctx, command{Op: opMember, ID: n.opts.id, HTTPAddr: n.httpAddr}); err != nil {
			n.logger.Warn("recording this server's HTTP address", "error", err)
		}
	default:
		n.wasMember = true
		if _, addr, ok := n.leaderHTTP(); ok {
			if err := n.postJoin(ctx, addr, req); err != nil {
				n.logger.Warn("asking the leader to record this server's HTTP address", "leader", addr, "error", err)
			}
		}
	}
}

// selfInConfiguration returns this server's Raft address in the latest
// configuration it knows, and whether it is in it.
func (n *node) selfInConfiguration() (raftAddr string, member bool, err error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", false, err
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == n.opts.id {
			return string(s.Address), true, nil
		}
	}
	return "", false, nil
}

// postJoin sends a join request to a server's API.
func (n *node) postJoin(ctx context.Context, httpAddr string, req joinRequest) error {
	body, _ := json.Marshal(req) // cannot fail: strings only
	cctx, cancel := context.WithTimeout(ctx, opTimeout+5*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(cctx, http.MethodPost, n.scheme()+"://"+httpAddr+"/join", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(hr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(msg, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// errConflict is a join that would take another server's address.
var errConflict = errors.New("conflict")

// addMember makes req a voter and records its HTTP address; on the leader
// only. It is idempotent: a server already present with the same address
// is left as it is. A server known under the same ID at another address
// gets the new address (AddVoter updates it in place); another ID at the
// same address was replaced and is removed first, unless that is this
// leader itself.
func (n *node) addMember(ctx context.Context, req joinRequest) (uint64, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, err
	}
	id, addr := raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr)
	present := false
	for _, s := range f.Configuration().Servers {
		switch {
		case s.ID == id && s.Address == addr:
			present = true
		case s.ID == id:
			n.logger.Info("server moved; updating its address", "id", id, "from", s.Address, "to", addr)
		case s.Address == addr:
			if string(s.ID) == n.opts.id {
				return 0, fmt.Errorf("%w: %s at %s would replace the leader %s at %s", errConflict, id, addr, s.ID, s.Address)
			}
			n.logger.Info("removing a stale entry before the join", "id", s.ID, "address", s.Address)
			if err := n.raft.RemoveServer(s.ID, 0, opTimeout).Error(); err != nil {
				return 0, fmt.Errorf("removing %s: %w", s.ID, err)
			}
		}
	}
	var index uint64
	if !present {
		af := n.raft.AddVoter(id, addr, 0, opTimeout)
		if err := af.Error(); err != nil {
			return 0, fmt.Errorf("adding %s: %w", id, err)
		}
		index = af.Index()
		n.logger.Info("added a voter", "id", id, "raft_addr", addr, "http_addr", req.HTTPAddr)
	}
	if cur, ok := n.fsm.member(req.ID); !ok || cur != req.HTTPAddr {
		i, err := n.applyCommand(ctx, command{Op: opMember, ID: req.ID, HTTPAddr: req.HTTPAddr})
		if err != nil {
			return 0, fmt.Errorf("recording the HTTP address of %s: %w", id, err)
		}
		index = i
	}
	return index, nil
}

// removeMember removes a server; on the leader only. Its HTTP address is
// forgotten first, so nobody forwards to it meanwhile.
func (n *node) removeMember(ctx context.Context, id string) (uint64, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return 0, err
	}
	found := false
	for _, s := range f.Configuration().Servers {
		found = found || string(s.ID) == id
	}
	if !found {
		return 0, fmt.Errorf("%w: %s is not in the configuration", raft.ErrUnknownServer, id)
	}
	if _, ok := n.fsm.member(id); ok {
		if _, err := n.applyCommand(ctx, command{Op: opForget, ID: id}); err != nil {
			return 0, err
		}
	}
	rf := n.raft.RemoveServer(raft.ServerID(id), 0, opTimeout)
	if err := rf.Error(); err != nil {
		return 0, fmt.Errorf("removing %s: %w", id, err)
	}
	n.logger.Info("removed a server", "id", id)
	return rf.Index(), nil
}

// markLeft reports that this server is no longer a member.
func (n *node) markLeft() { n.leftOnce.Do(func() { close(n.left) }) }
