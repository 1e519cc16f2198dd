package core

import (
	"fmt"
	"strconv"
	"strings"

	raft "github.com/pontoon-raft/raft"
)

// Scenario commands for issue 5 (interaction_test.go dispatches here):
//
//	add-spare                          a new server, never bootstrapped (empty storage)
//	snapshot 1 index=N [trailing=K]    n1 snapshots at applied index N, compacts keeping K entries
//	conf-change 1 add-voter 4 [prev=N] n1 proposes a change (add-voter, add-nonvoter,
//	                                   demote-voter, remove-server, add-staging, promote)
//	transfer 1 [3]                     n1 transfers leadership (to n3, or the best voter)
//	step-down 1                        n1 steps down (stalled disk)
//	lease-read 1 ID / read-index 2 ID  reads
//	stall 1 / unstall 1                n1's driver stops / resumes taking Readys (stuck disk)
//	set-timeouts 1 election=E lease=L  ReloadConfig
func (e *scenario) execProto(cmd string, pos []string, opts map[string]string) {
	switch cmd {
	case "add-spare":
		cfg := e.nodes[0].cfg
		n := &scNode{id: raft.ServerID(fmt.Sprintf("n%d", len(e.nodes)+1)), idx: len(e.nodes), cfg: cfg, store: &memStorage{}}
		n.cfg.ID, n.cfg.Seed = n.id, int64(len(e.nodes)+1)
		e.nodes = append(e.nodes, n)
		e.start(n)
	case "snapshot":
		e.snapshot(e.node(pos[0]), opts)
	case "conf-change":
		n := e.node(pos[0])
		cc := ConfChange{Command: parseConfChange(pos[1]), ID: e.node(pos[2]).id}
		cc.Address = raft.ServerAddress(cc.ID)
		if v, ok := opts["prev"]; ok {
			cc.PrevIndex, _ = strconv.ParseUint(v, 10, 64)
		}
		idx, err := n.core.ProposeConfChange(cc)
		if err != nil {
			e.printf("%s: ProposeConfChange: %v", n.id, err)
		} else {
			e.printf("%s: configuration at %d: %s", n.id, idx, fmtConf(n.core.conf.latest()))
		}
		e.ready(n)
	case "transfer":
		n := e.node(pos[0])
		var target raft.ServerID
		if len(pos) > 1 {
			target = e.node(pos[1]).id
		}
		if err := n.core.TransferLeadership(target); err != nil {
			e.printf("%s: TransferLeadership: %v", n.id, err)
		}
		e.ready(n)
	case "step-down":
		n := e.node(pos[0])
		n.core.StepDown()
		e.ready(n)
	case "lease-read", "read-index":
		n := e.node(pos[0])
		id, _ := strconv.ParseUint(pos[1], 10, 64)
		if cmd == "lease-read" {
			n.core.LeaseRead(id)
		} else {
			n.core.ReadIndex(id)
		}
		e.ready(n)
	case "stall":
		e.node(pos[0]).stalled = true
	case "unstall":
		n := e.node(pos[0])
		n.stalled = false
		e.ready(n)
	case "set-timeouts":
		n := e.node(pos[0])
		el, _ := strconv.Atoi(opts["election"])
		le, _ := strconv.Atoi(opts["lease"])
		if err := n.core.SetTimeouts(el, le); err != nil {
			e.printf("%s: SetTimeouts: %v", n.id, err)
		}
	}
}

func parseConfChange(s string) ConfChangeCommand {
	switch s {
	case "add-voter":
		return AddVoter
	case "add-nonvoter":
		return AddNonvoter
	case "demote-voter":
		return DemoteVoter
	case "remove-server":
		return RemoveServer
	case "add-staging":
		return AddNonvoterPromoting
	case "promote":
		return Promote
	}
	panic(fmt.Sprintf("unknown configuration change %q", s))
}

// snapshot takes a local snapshot at index= (default: the applied index)
// and compacts the log, keeping trailing= entries before it.
func (e *scenario) snapshot(n *scNode, opts map[string]string) {
	c := n.core
	idx := c.log.applied
	if v, ok := opts["index"]; ok {
		idx, _ = strconv.ParseUint(v, 10, 64)
	}
	if idx > c.log.applied || idx <= n.store.snap.Index {
		panic(fmt.Sprintf("snapshot at %d: applied %d, last snapshot %d", idx, c.log.applied, n.store.snap.Index))
	}
	term, err := n.store.Term(idx)
	if err != nil {
		panic(err)
	}
	info := SnapshotInfo{Index: idx, Term: term, Configuration: n.store.snap.Configuration, ConfigurationIndex: n.store.snap.ConfigurationIndex}
	for i := idx; i > n.store.snap.Index && i >= n.store.firstLive(); i-- {
		if ent := n.store.ents[i-1]; ent.Type == raft.LogConfiguration {
			conf, err := raft.DecodeConfiguration(ent.Data)
			if err != nil {
				panic(err)
			}
			info.Configuration, info.ConfigurationIndex = conf, i
			break
		}
	}
	n.store.snap = info
	trailing, _ := strconv.ParseUint(opts["trailing"], 10, 64)
	if idx > trailing {
		n.store.compact(idx - trailing)
	}
	c.ReportSnapshot(info)
	e.printf("%s: snapshot at %d/%d %s, log from %d", n.id, idx, term, fmtConf(info.Configuration), n.store.firstLive())
	e.ready(n)
}

// fmtConf prints a configuration compactly: n1 n2 n3(nonvoter) n4(staging).
func fmtConf(conf raft.Configuration) string {
	var parts []string
	for _, s := range conf.Servers {
		p := string(s.ID)
		switch s.Suffrage {
		case raft.Nonvoter:
			p += "(nonvoter)"
		case raft.Staging:
			p += "(staging)"
		}
		parts = append(parts, p)
	}
	return "{" + strings.Join(parts, " ") + "}"
}
