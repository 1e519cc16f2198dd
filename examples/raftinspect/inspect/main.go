package inspect

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// Exit codes of Main.
const (
	exitOK      = 0
	exitDamaged = 1
	exitFailed  = 2
)

// openTimeout is how long opening raft.db waits for a lock held by another
// process before reporting the directory in use.
var openTimeout = time.Second

const usage = `usage:
  raftinspect [info] [flags] DATA_DIR     summary: log, terms, stable keys, configurations, snapshots
  raftinspect dump -from N -to M [flags] DATA_DIR
                                          print the entries N..M
  raftinspect verify [flags] DATA_DIR     check every record and snapshot
  raftinspect checkpoint [flags] DATA_DIR fold a crashed node's journal into raft.db
flags (every command):
  -db PATH          the log store: a BoltStore file or a SegmentStore directory (default DATA_DIR/raft.db,
                    else a SegmentStore in DATA_DIR or DATA_DIR/log)
  -snapshots DIR    the snapshot store's base (default DATA_DIR; snapshots in DIR/snapshots)
`

// Main runs raftinspect with args (without the program name), writing
// results to stdout and errors to stderr, and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd := "info"
	if len(args) > 0 {
		switch args[0] {
		case "info", "dump", "verify", "checkpoint":
			cmd, args = args[0], args[1:]
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return exitOK
		}
	}
	fs := flag.NewFlagSet("raftinspect "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	dbPath := fs.String("db", "", "the log store: a BoltStore file or a SegmentStore directory (default DATA_DIR/raft.db, else a SegmentStore in DATA_DIR or DATA_DIR/log)")
	snapBase := fs.String("snapshots", "", "the snapshot store's base directory (default DATA_DIR)")
	var from, to uint64
	var full bool
	if cmd == "dump" {
		fs.Uint64Var(&from, "from", 0, "first index to print (default: the log's first)")
		fs.Uint64Var(&to, "to", 0, "last index to print (default: the log's last)")
		fs.BoolVar(&full, "full", false, "print whole payloads (default: the first 64 bytes)")
	}
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, usage)
		return exitFailed
	}
	d := dataDir{dir: fs.Arg(0), db: *dbPath, snapBase: *snapBase}
	dbGiven := d.db != ""
	if !dbGiven {
		d.db = filepath.Join(d.dir, "raft.db")
	}
	d.seg = findSegmentStore(d.dir, d.db, dbGiven)
	if d.snapBase == "" {
		d.snapBase = d.dir
	}
	var err error
	switch cmd {
	case "info":
		err = info(stdout, d)
	case "dump":
		err = dump(stdout, d, from, to, full)
	case "verify":
		err = verify(stdout, d)
	case "checkpoint":
		err = checkpoint(stdout, d)
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "raftinspect %s: %v\n", cmd, err)
	if errors.Is(err, errDamaged) {
		return exitDamaged
	}
	return exitFailed
}
