package core

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	raft "github.com/pontoon-raft/raft"
)

// Scenario tests: each testdata/*.txt file is a script of commands, each
// followed by "----" and the output it must produce. Run with -rewrite to
// regenerate the outputs after a deliberate change (then read the diff).
//
// Script format:
//
//	# comments and blank lines are kept as they are
//	command arg arg
//	----
//	expected output (no blank lines)
//	<blank line>
var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt scenario scripts")

func TestInteraction(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			runScript(t, path)
		})
	}
}

type scriptStep struct {
	pre      []string // comments and blank lines before the command
	cmd      string
	line     int
	expected []string
}

func parseScript(t *testing.T, path string) []scriptStep {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []scriptStep
	var cur scriptStep
	sc := bufio.NewScanner(f)
	lineNo := 0
	state := 0 // 0: before command, 1: after command (want ----), 2: in output
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		switch state {
		case 0:
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				cur.pre = append(cur.pre, line)
				continue
			}
			cur.cmd, cur.line, state = line, lineNo, 1
		case 1:
			if line != "----" {
				t.Fatalf("%s:%d: want ---- after command, got %q", path, lineNo, line)
			}
			state = 2
		case 2:
			if line == "" {
				steps = append(steps, cur)
				cur, state = scriptStep{}, 0
				continue
			}
			cur.expected = append(cur.expected, line)
		}
	}
	if state == 1 {
		t.Fatalf("%s: command without ----", path)
	}
	if state == 2 {
		steps = append(steps, cur)
		cur = scriptStep{}
	}
	if len(cur.pre) > 0 {
		steps = append(steps, scriptStep{pre: cur.pre})
	}
	return steps
}

func runScript(t *testing.T, path string) {
	steps := parseScript(t, path)
	env := newScenario()
	var out strings.Builder
	for _, st := range steps {
		for _, p := range st.pre {
			out.WriteString(p + "\n")
		}
		if st.cmd == "" {
			continue
		}
		got := env.exec(st.cmd)
		if len(got) == 0 {
			got = []string{"ok"}
		}
		out.WriteString(st.cmd + "\n----\n" + strings.Join(got, "\n") + "\n\n")
		if !*rewrite && !slices.Equal(got, st.expected) {
			t.Errorf("%s:%d: %s\n--- got:\n%s\n--- want:\n%s", path, st.line, st.cmd,
				strings.Join(got, "\n"), strings.Join(st.expected, "\n"))
		}
	}
	if *rewrite {
		s := strings.TrimRight(out.String(), "\n") + "\n"
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scenario is the interpreter's world: nodes, a FIFO network, partitions.
type scenario struct {
	nodes   []*scNode
	pending []Message
	group   map[raft.ServerID]int
	counts  map[MsgType]int
	out     []string
}

type scNode struct {
	id    raft.ServerID
	idx   int
	cfg   Config
	store *memStorage
	core  *Core
	// stalled models a stuck disk: the driver takes no Ready.
	stalled bool
}

func newScenario() *scenario { return &scenario{counts: map[MsgType]int{}} }

func (e *scenario) printf(format string, args ...any) {
	e.out = append(e.out, fmt.Sprintf(format, args...))
}

func (e *scenario) node(arg string) *scNode {
	arg = strings.TrimPrefix(arg, "n")
	i, err := strconv.Atoi(arg)
	if err != nil || i < 1 || i > len(e.nodes) {
		panic(fmt.Sprintf("no node %q", arg))
	}
	return e.nodes[i-1]
}

// exec runs one command line and returns its output.
func (e *scenario) exec(line string) (out []string) {
	e.out = nil
	defer func() {
		if r := recover(); r != nil {
			e.printf("error: %v", r)
		}
		out = e.out
	}()
	fields := strings.Fields(line)
	cmd, args := fields[0], fields[1:]
	opts := map[string]string{}
	var pos []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			opts[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	switch cmd {
	case "add-nodes":
		e.addNodes(pos, opts)
	case "campaign":
		n := e.node(pos[0])
		n.core.campaign(n.cfg.PreVote, false)
		e.ready(n)
	case "tick":
		n := e.node(pos[0])
		k := 1
		if len(pos) > 1 {
			k, _ = strconv.Atoi(pos[1])
		}
		for i := 0; i < k; i++ {
			n.core.Tick()
			e.ready(n)
		}
	case "propose":
		n := e.node(pos[0])
		var ents []*raft.Log
		for _, d := range pos[1:] {
			ents = append(ents, &raft.Log{Type: raft.LogCommand, Data: []byte(d)})
		}
		if k, ok := opts["count"]; ok {
			c, _ := strconv.Atoi(k)
			for i := 1; i <= c; i++ {
				ents = append(ents, &raft.Log{Type: raft.LogCommand, Data: []byte(fmt.Sprintf("%s%d", opts["prefix"], i))})
			}
		}
		first, last, err := n.core.Propose(ents)
		if err != nil {
			e.printf("%s: Propose: %v", n.id, err)
		} else {
			e.printf("%s: proposed [%d, %d]", n.id, first, last)
		}
		e.ready(n)
	case "verify-leader":
		n := e.node(pos[0])
		id, _ := strconv.ParseUint(pos[1], 10, 64)
		n.core.VerifyLeader(id)
		e.ready(n)
	case "timeout-now":
		// Queue the MsgTimeoutNow a transferring leader sends.
		from, to := e.node(pos[0]), e.node(pos[1])
		e.pending = append(e.pending, Message{Type: MsgTimeoutNow, From: from.id, To: to.id, Term: from.core.term})
	case "deliver-msgs":
		e.deliver(opts)
	case "drop-msgs":
		e.drop(opts)
	case "stabilize":
		for i := 0; len(e.pending) > 0; i++ {
			if i > 1000 {
				panic("stabilize: no fixpoint")
			}
			e.deliver(opts)
		}
	case "partition":
		e.partition(args)
	case "heal":
		e.group = nil
	case "crash":
		n := e.node(pos[0])
		n.core = nil
		e.printf("%s: crashed (unstable entries lost)", n.id)
	case "restart":
		e.start(e.node(pos[0]))
	case "forget-leader":
		// As if the follower's election timer expired without it being
		// able to campaign: it stops refusing votes for the old leader.
		for _, p := range pos {
			n := e.node(p)
			n.core.lead = ""
			e.ready(n)
		}
	case "set-log":
		e.setLog(e.node(pos[0]), pos[1:], opts)
	case "status":
		for _, n := range e.selected(pos) {
			e.status(n)
		}
	case "log":
		for _, n := range e.selected(pos) {
			e.printLog(n)
		}
	case "add-spare", "snapshot", "conf-change", "transfer", "step-down", "lease-read", "read-index",
		"stall", "unstall", "set-timeouts":
		e.execProto(cmd, pos, opts)
	case "msg-count":
		var keys []MsgType
		for k := range e.counts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%v=%d", k, e.counts[k]))
		}
		e.printf("delivered: %s", strings.Join(parts, " "))
		e.counts = map[MsgType]int{}
	default:
		panic(fmt.Sprintf("unknown command %q", cmd))
	}
	return nil
}

func (e *scenario) selected(pos []string) []*scNode {
	if len(pos) == 0 {
		return e.nodes
	}
	var out []*scNode
	for _, p := range pos {
		out = append(out, e.node(p))
	}
	return out
}

func (e *scenario) addNodes(pos []string, opts map[string]string) {
	k, _ := strconv.Atoi(pos[0])
	intOpt := func(name string, def int) int {
		if v, ok := opts[name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				panic(err)
			}
			return n
		}
		return def
	}
	cfg := Config{
		ElectionTick:     intOpt("election", 10),
		HeartbeatTick:    intOpt("heartbeat", 3),
		LeaseTick:        intOpt("lease", 8),
		MaxAppendEntries: intOpt("max-append", 64),
		MaxInflight:      intOpt("max-inflight", 4),
		MaxSizePerMsg:    uint64(intOpt("max-size", 0)),
		PreVote:          opts["prevote"] != "false",
		LeaseReads:       opts["lease-reads"] == "true",
	}
	var conf raft.Configuration
	for i := 0; i < k; i++ {
		id := raft.ServerID(fmt.Sprintf("n%d", i+1))
		conf.Servers = append(conf.Servers, raft.Server{ID: id, Address: raft.ServerAddress(id), Suffrage: raft.Voter})
	}
	for i := 0; i < k; i++ {
		n := &scNode{id: conf.Servers[i].ID, idx: i, cfg: cfg, store: bootstrapStorage(conf)}
		n.cfg.ID = n.id
		n.cfg.Seed = int64(i + 1)
		e.nodes = append(e.nodes, n)
		e.start(n)
	}
}

func (e *scenario) start(n *scNode) {
	c, err := New(n.cfg, n.store)
	if err != nil {
		panic(err)
	}
	n.core = c
	e.printf("%s: started at term %d, log [1, %d]", n.id, c.term, c.log.lastIndex())
	e.ready(n)
}

// setLog replaces a node's stored log after the bootstrap entry with
// entries of the given terms (entry i's data is "t<term>i<index>"), sets
// its term (term= option, or the last entry's) and restarts it.
func (e *scenario) setLog(n *scNode, terms []string, opts map[string]string) {
	n.store.ents = n.store.ents[:1]
	var last uint64 = 1
	for _, ts := range terms {
		term, err := strconv.ParseUint(ts, 10, 64)
		if err != nil {
			panic(err)
		}
		idx := uint64(len(n.store.ents)) + 1
		n.store.ents = append(n.store.ents, &raft.Log{Index: idx, Term: term, Type: raft.LogCommand,
			Data: []byte(fmt.Sprintf("t%di%d", term, idx))})
		last = term
	}
	n.store.hs = HardState{Term: max(last, n.store.hs.Term)}
	if v, ok := opts["term"]; ok {
		tt, _ := strconv.ParseUint(v, 10, 64)
		n.store.hs = HardState{Term: tt}
	}
	e.start(n)
}

func (e *scenario) partition(args []string) {
	e.group = map[raft.ServerID]int{}
	g := 0
	for _, a := range args {
		if a == "|" {
			g++
			continue
		}
		e.group[e.node(a).id] = g
	}
}

func (e *scenario) cut(m Message) bool {
	return e.group != nil && e.group[m.From] != e.group[m.To]
}

func match(m Message, opts map[string]string) bool {
	if v, ok := opts["to"]; ok && string(m.To) != "n"+strings.TrimPrefix(v, "n") {
		return false
	}
	if v, ok := opts["from"]; ok && string(m.From) != "n"+strings.TrimPrefix(v, "n") {
		return false
	}
	if v, ok := opts["type"]; ok && m.Type.String() != v {
		return false
	}
	return true
}

// deliver delivers the pending messages that match opts, in FIFO order
// (limit= bounds how many); messages they cause are queued for later.
func (e *scenario) deliver(opts map[string]string) {
	limit := -1
	if v, ok := opts["limit"]; ok {
		limit, _ = strconv.Atoi(v)
	}
	var batch, keep []Message
	for _, m := range e.pending {
		if match(m, opts) && limit != 0 {
			batch = append(batch, m)
			limit--
		} else {
			keep = append(keep, m)
		}
	}
	e.pending = keep
	for _, m := range batch {
		to := e.nodes[slices.IndexFunc(e.nodes, func(n *scNode) bool { return n.id == m.To })]
		if to.core == nil || e.cut(m) {
			e.printf("%s dropped", fmtMsg(m))
			continue
		}
		e.printf("%s", fmtMsg(m))
		e.counts[m.Type]++
		if err := to.core.Step(m); err != nil {
			e.printf("%s: Step: %v", to.id, err)
		}
		e.ready(to)
	}
}

func (e *scenario) drop(opts map[string]string) {
	limit := -1
	if v, ok := opts["limit"]; ok {
		limit, _ = strconv.Atoi(v)
	}
	var keep []Message
	n := 0
	for _, m := range e.pending {
		if match(m, opts) && n != limit {
			n++
			continue
		}
		keep = append(keep, m)
	}
	e.pending = keep
	e.printf("dropped %d messages", n)
}

// ready plays the driver for n, printing what each Ready carries.
func (e *scenario) ready(n *scNode) {
	for n.core != nil && !n.stalled && n.core.HasReady() {
		rd := n.core.Ready()
		if rd.SoftState != nil {
			e.printf("%s: now %v, leader %q", n.id, rd.SoftState.Role, rd.SoftState.Leader)
		}
		if rd.HardState != nil {
			e.printf("%s: persist term=%d vote=%q", n.id, rd.HardState.Term, rd.HardState.Vote)
			n.store.persistHard(rd)
		}
		if rd.Snapshot != nil {
			e.printf("%s: install snapshot %d/%d %s", n.id, rd.Snapshot.Index, rd.Snapshot.Term, fmtConf(rd.Snapshot.Configuration))
			n.store.installSnapshot(*rd.Snapshot)
		}
		if rd.Transfer != nil {
			e.printf("%s: transfer to %s ok=%v", n.id, rd.Transfer.Target, rd.Transfer.OK)
		}
		if len(rd.Entries) > 0 {
			trunc := ""
			if rd.Entries[0].Index <= uint64(len(n.store.ents)) {
				trunc = fmt.Sprintf(" (replacing stored entries from %d)", rd.Entries[0].Index)
			}
			e.printf("%s: persist %s%s", n.id, fmtEntries(rd.Entries), trunc)
			if _, err := n.store.persistEntries(rd); err != nil {
				panic(err)
			}
		}
		e.pending = append(e.pending, rd.Messages...)
		if len(rd.CommittedEntries) > 0 {
			e.printf("%s: apply %s", n.id, fmtEntries(rd.CommittedEntries))
		}
		for _, r := range rd.ReadStates {
			e.printf("%s: read %d ok=%v index=%d", n.id, r.ID, r.OK, r.Index)
		}
		n.core.Advance(rd)
	}
}

func fmtEntries(ents []*raft.Log) string { return fmtEntriesMax(ents, 6) }

// fmtEntriesMax prints entries, summarizing runs longer than max.
func fmtEntriesMax(ents []*raft.Log, max int) string {
	var parts []string
	for _, e := range ents {
		s := fmt.Sprintf("%d/%d", e.Index, e.Term)
		switch e.Type {
		case raft.LogCommand:
			s += ":" + string(e.Data)
		case raft.LogNoop:
			s += ":noop"
		case raft.LogConfiguration:
			s += ":conf"
		default:
			s += ":" + e.Type.String()
		}
		parts = append(parts, s)
	}
	// Long runs are summarized so scripts stay readable.
	if len(parts) > max {
		parts = append(parts[:3], fmt.Sprintf("... (%d entries) ...", len(parts)-5), parts[len(parts)-2], parts[len(parts)-1])
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (e *scenario) status(n *scNode) {
	if n.core == nil {
		e.printf("%s: crashed", n.id)
		return
	}
	st := n.core.Status()
	role := st.Role.String()
	if st.PreCandidate {
		role = "PreCandidate"
	}
	e.printf("%s: %s term=%d vote=%q leader=%q commit=%d applied=%d last=%d/%d", n.id, role, st.Term, st.Vote, st.Leader,
		st.Commit, st.Applied, st.LastIndex, st.LastTerm)
	var ids []raft.ServerID
	for id := range st.Progress {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := st.Progress[id]
		e.printf("  %s: %v match=%d next=%d inflight=%d active=%v", id, p.State, p.Match, p.Next, p.Inflight, p.RecentActive)
	}
}

func (e *scenario) printLog(n *scNode) {
	if n.core == nil {
		e.printf("%s: crashed; stored %s", n.id, fmtEntries(n.store.ents))
		return
	}
	first := max(n.core.log.first, 1)
	ents, err := n.core.log.entries(first, n.core.log.lastIndex()+1, 0, 0)
	if err != nil {
		panic(err)
	}
	snap := ""
	if s := n.core.log.snap; s.Index > 0 {
		snap = fmt.Sprintf(" snapshot=%d/%d", s.Index, s.Term)
	}
	e.printf("%s: commit=%d%s %s", n.id, n.core.log.committed, snap, fmtEntriesMax(ents, 16))
}
