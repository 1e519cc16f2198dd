package raftimpl

import (
	"fmt"
	"io"
	"time"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/raftimpl/internal/core"
	"github.com/pontoon-raft/raft/transport"
)

// sendSnapshot streams the newest stored snapshot to the peer (leader side
// of InstallSnapshot). The data goes from the SnapshotStore to the
// transport without being held in memory.
func (p *peer) sendSnapshot(m core.Message) (core.Message, bool) {
	r := p.r
	list, err := r.snaps.List()
	if err != nil || len(list) == 0 {
		r.logger.Error("no snapshot to send", "peer", p.id, "error", err)
		return core.Message{}, false
	}
	meta, rc, err := r.snaps.Open(list[0].ID)
	if err != nil {
		r.logger.Error("failed to open snapshot to send", "peer", p.id, "id", list[0].ID, "error", err)
		return core.Message{}, false
	}
	defer rc.Close()
	h := r.header()
	req := &transport.InstallSnapshotRequest{RPCHeader: h, SnapshotVersion: meta.Version, Term: m.Term,
		Leader: h.Addr, LastLogIndex: meta.Index, LastLogTerm: meta.Term, Peers: meta.Peers,
		Configuration: raft.EncodeConfiguration(meta.Configuration), ConfigurationIndex: meta.ConfigurationIndex,
		Size: meta.Size}
	var out transport.InstallSnapshotResponse
	start := time.Now()
	body := r.sendingSnapshot(p.id, meta, rc)
	if err := r.trans.InstallSnapshot(p.id, p.addr, req, &out, body); err != nil {
		r.logger.Error("failed to install snapshot", "peer", p.id, "id", meta.ID, "error", err)
		return core.Message{}, false
	}
	r.snapshotSent(p.id, meta, body, out.Success)
	r.replMeasure(p.id, replSnapshot, start)
	return core.Message{Type: core.MsgSnapResp, From: p.id, To: r.localID, Context: m.Context,
		Term: out.Term, Success: out.Success, Index: meta.Index}, true
}

// snapshotRecv is a snapshot received from a leader and stored, on its way
// to the driver loop.
type snapshotRecv struct {
	rpc  transport.RPC
	req  *transport.InstallSnapshotRequest
	id   string
	info snapshotInfo
	err  error
	// started is when the request arrived (raft.rpc.installSnapshot).
	started time.Time
}

// receiveSnapshot stores an incoming snapshot (follower side), off the
// driver loop so heartbeats keep flowing meanwhile. Only one is received at
// a time.
func (d *driver) receiveSnapshot(rpc transport.RPC, req *transport.InstallSnapshotRequest) {
	r := d.r
	select {
	case r.recvSem <- struct{}{}:
	default:
		if rpc.Reader != nil {
			io.Copy(io.Discard, io.LimitReader(rpc.Reader, req.Size))
		}
		rpc.Respond(nil, fmt.Errorf("another snapshot is being installed"))
		return
	}
	// NB: the semaphore stays held until the driver has handed the
	// snapshot to the core and installed it (see releaseReceive), so a newer
	// snapshot cannot replace this one in the store before the FSM has read
	// it.
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ev := snapshotRecv{rpc: rpc, req: req, started: time.Now()}
		ev.id, ev.info, ev.err = r.storeIncomingSnapshot(rpc.Reader, req)
		select {
		case r.ctrlCh <- ev:
		case <-r.shutdownCh:
			<-r.recvSem
			rpc.Respond(nil, raft.ErrRaftShutdown)
		}
	}()
}

// storeIncomingSnapshot copies exactly req.Size bytes into a new snapshot of
// the SnapshotStore and makes it durable.
func (r *Raft) storeIncomingSnapshot(data io.Reader, req *transport.InstallSnapshotRequest) (string, snapshotInfo, error) {
	var info snapshotInfo
	if req.SnapshotVersion < raft.SnapshotVersionMin || req.SnapshotVersion > raft.SnapshotVersionMax {
		io.Copy(io.Discard, io.LimitReader(data, req.Size))
		return "", info, fmt.Errorf("unsupported snapshot version %d", req.SnapshotVersion)
	}
	conf, err := raft.DecodeConfiguration(req.Configuration)
	if err != nil {
		io.Copy(io.Discard, io.LimitReader(data, req.Size))
		return "", info, fmt.Errorf("install snapshot: %w", err)
	}
	info = snapshotInfo{index: req.LastLogIndex, term: req.LastLogTerm, configuration: conf,
		configurationIndex: req.ConfigurationIndex}
	// A leader retries a snapshot it thinks was lost; the state at one index
	// and term is the same, so a second copy is never stored: it would only
	// push the older snapshot kept for fallback out of the store.
	if id, ok := r.storedSnapshotAt(info.index, info.term); ok {
		if _, err := io.Copy(io.Discard, io.LimitReader(data, req.Size)); err != nil {
			return "", info, fmt.Errorf("install snapshot: %w", err)
		}
		r.logger.Info("snapshot from leader already stored", "id", id, "index", info.index, "term", info.term)
		return id, info, nil
	}
	sink, err := r.snaps.Create(raft.SnapshotVersionMax, info.index, info.term, conf, info.configurationIndex, r.trans)
	if err != nil {
		io.Copy(io.Discard, io.LimitReader(data, req.Size))
		return "", info, fmt.Errorf("install snapshot: creating sink: %w", err)
	}
	body := r.receivingSnapshot(req, data)
	n, err := io.Copy(sink, io.LimitReader(body, req.Size))
	if err == nil && n != req.Size {
		err = fmt.Errorf("short read: got %d of %d bytes", n, req.Size)
	}
	if err != nil {
		sink.Cancel()
		return "", info, fmt.Errorf("install snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return "", info, fmt.Errorf("install snapshot: closing sink: %w", err)
	}
	r.snapshotStored(sink.ID(), body)
	return sink.ID(), info, nil
}

// snapshotReceived hands a stored incoming snapshot to the core, which
// decides whether to install it.
func (d *driver) snapshotReceived(ev snapshotRecv) {
	// Released once this loop iteration's Ready has been processed.
	d.holdingReceive = true
	if ev.err != nil {
		d.r.logger.Error("failed to receive snapshot", "error", ev.err)
		ev.rpc.Respond(&transport.InstallSnapshotResponse{RPCHeader: d.r.header(), Term: d.core.Status().Term}, ev.err)
		return
	}
	d.received[ev.info.index] = ev.id
	m := core.Message{Type: core.MsgSnap, From: d.senderID(ev.req.RPCHeader, ev.req.Leader), To: d.r.localID,
		Term: ev.req.Term, Snapshot: toCoreSnapshot(ev.info)}
	d.nextID++
	m.Context = d.nextID
	d.rpcs[m.Context] = pendingRPC{rpc: ev.rpc, req: m, started: time.Now()}
	d.noteSnapshotArrival(m.Context, ev.started)
	d.step(m)
}

func toCoreSnapshot(info snapshotInfo) *core.SnapshotInfo {
	return &core.SnapshotInfo{Index: info.index, Term: info.term,
		Configuration: info.configuration, ConfigurationIndex: info.configurationIndex}
}

func fromCoreSnapshot(s core.SnapshotInfo) snapshotInfo {
	return snapshotInfo{index: s.Index, term: s.Term, configuration: s.Configuration,
		configurationIndex: s.ConfigurationIndex}
}

// installSnapshot carries out Ready.Snapshot: the FSM is restored from the
// stored snapshot (in order with the entries before it, through the apply
// loop) and the log is replaced by an empty one after it.
func (d *driver) installSnapshot(s core.SnapshotInfo) error {
	info := fromCoreSnapshot(s)
	id, ok := d.received[info.index]
	if !ok {
		return fmt.Errorf("core asked to install snapshot at %d, which was not received", info.index)
	}
	for idx := range d.received {
		if idx <= info.index {
			delete(d.received, idx)
		}
	}
	if err := d.storage.reset(info); err != nil {
		return err
	}
	d.r.lastSnapshotIndex.Store(info.index)
	d.r.lastSnapshotTerm.Store(info.term)
	// The restore goes through the apply loop, after every entry committed
	// before it; the loop waits for it so the snapshot cannot be replaced in
	// the store meanwhile.
	req := &fsmRestoreReq{id: id, info: info, respCh: make(chan error, 1)}
	select {
	case d.r.applyCh <- []commitItem{{restore: req}}:
	case <-d.r.shutdownCh:
		return nil
	}
	select {
	case err := <-req.respCh:
		if err != nil {
			return nil // the apply loop is shutting the node down
		}
	case <-d.r.shutdownCh:
		return nil
	}
	d.r.commitIndex.Store(info.index)
	d.r.logger.Info("installed snapshot from leader", "index", info.index, "term", info.term)
	return nil
}

// releaseReceive lets the next incoming snapshot in, once the previous one
// has been handed to the core and, if asked, installed.
func (d *driver) releaseReceive() {
	if d.holdingReceive {
		d.holdingReceive = false
		<-d.r.recvSem
	}
}

// storedSnapshotAt returns the ID of a stored, readable snapshot at index and
// term, if there is one.
func (r *Raft) storedSnapshotAt(index, term uint64) (string, bool) {
	list, err := r.snaps.List()
	if err != nil {
		return "", false
	}
	for _, m := range list {
		if m.Index == index && m.Term == term {
			return m.ID, true
		}
	}
	return "", false
}
