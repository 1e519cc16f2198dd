package snapshot_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	raft "github.com/pontoon-raft/raft"
	"github.com/pontoon-raft/raft/snapshot"
)

var cfg = raft.Configuration{Servers: []raft.Server{
	{Suffrage: raft.Voter, ID: "n1", Address: "127.0.0.1:7000"},
	{Suffrage: raft.Nonvoter, ID: "n2", Address: "127.0.0.1:7001"},
}}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeSnap(t testing.TB, s *snapshot.FileSnapshotStore, index, term uint64, data string) string {
	t.Helper()
	sink, err := s.Create(1, index, term, cfg, 1, nil)
	must(t, err)
	_, err = sink.Write([]byte(data))
	must(t, err)
	must(t, sink.Close())
	return sink.ID()
}

func TestFileLayout(t *testing.T) {
	s := newFileStore(t, 2)
	sink, err := s.Create(1, 10, 3, cfg, 1, nil)
	must(t, err)
	id := sink.ID()
	if !regexp.MustCompile(`^3-10-\d{13}$`).MatchString(id) {
		t.Fatalf("ID %q is not <term>-<index>-<unixMillis>", id)
	}
	tmp := filepath.Join(s.Path(), id+".tmp")
	for _, f := range []string{"meta.json", "state.bin"} {
		if _, err := os.Stat(filepath.Join(tmp, f)); err != nil {
			t.Fatalf("while writing: %v", err)
		}
	}
	// meta.json while writing: Size 0 and CRC null.
	b, err := os.ReadFile(filepath.Join(tmp, "meta.json"))
	must(t, err)
	if !bytes.Contains(b, []byte(`"Size":0,"CRC":null}`)) {
		t.Fatalf("meta.json while writing: %s", b)
	}
	_, err = sink.Write([]byte("hello"))
	must(t, err)
	must(t, sink.Close())
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf(".tmp directory still there: %v", err)
	}
	dir := filepath.Join(s.Path(), id)
	b, err = os.ReadFile(filepath.Join(dir, "meta.json"))
	must(t, err)
	if b[len(b)-1] != '\n' {
		t.Fatal("meta.json does not end in a newline")
	}
	// The keys, in hashicorp/raft's order.
	keys := regexp.MustCompile(`"(\w+)":`).FindAllSubmatch(b, -1)
	var got []string
	for _, k := range keys {
		got = append(got, string(k[1]))
	}
	want := "Version ID Index Term Peers Configuration Servers Suffrage ID Address Suffrage ID Address ConfigurationIndex Size CRC"
	if strings.Join(got, " ") != want {
		t.Fatalf("meta.json keys:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	var m struct {
		Size  int64
		CRC   []byte
		Peers []byte
	}
	must(t, json.Unmarshal(b, &m))
	sum := crc64.Checksum([]byte("hello"), crc64.MakeTable(crc64.ECMA))
	if m.Size != 5 || len(m.CRC) != 8 || m.CRC[0] != byte(sum>>56) || m.CRC[7] != byte(sum) {
		t.Fatalf("meta.json Size %d CRC %x, want 5 and %016x", m.Size, m.CRC, sum)
	}
	// Legacy peers: msgpack array of the one voter's address.
	if want := append([]byte{0x91, 0xae}, "127.0.0.1:7000"...); !bytes.Equal(m.Peers, want) {
		t.Fatalf("Peers % x, want % x", m.Peers, want)
	}
	if st, err := os.Stat(s.Path()); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("snapshots dir: %v %v", st.Mode(), err)
	}
}

func TestFileRetain(t *testing.T) {
	s := newFileStore(t, 2)
	var ids []string
	for i := uint64(1); i <= 5; i++ {
		ids = append(ids, writeSnap(t, s, i*10, 1, "x"))
	}
	list, err := s.List()
	must(t, err)
	if len(list) != 2 || list[0].ID != ids[4] || list[1].ID != ids[3] {
		t.Fatalf("List = %d snapshots", len(list))
	}
	entries, err := os.ReadDir(s.Path())
	must(t, err)
	if len(entries) != 2 {
		t.Fatalf("%d directories left after reaping, want 2", len(entries))
	}
	if _, err := snapshot.NewFileSnapshotStore(t.TempDir(), 0, io.Discard); err == nil {
		t.Fatal("retain 0 accepted")
	}
}

func TestFileSkipsTmpAndBadVersions(t *testing.T) {
	s := newFileStore(t, 5)
	good := writeSnap(t, s, 10, 1, "good")
	// A leftover .tmp directory and a snapshot of an unknown version.
	must(t, os.Mkdir(filepath.Join(s.Path(), "9-99-1.tmp"), 0o755))
	bad := writeSnap(t, s, 20, 1, "future")
	metaPath := filepath.Join(s.Path(), bad, "meta.json")
	b, err := os.ReadFile(metaPath)
	must(t, err)
	must(t, os.WriteFile(metaPath, bytes.Replace(b, []byte(`"Version":1`), []byte(`"Version":2`), 1), 0o644))
	list, err := s.List()
	must(t, err)
	if len(list) != 1 || list[0].ID != good {
		t.Fatalf("List = %+v", list)
	}
	if _, _, err := s.Open(bad); err == nil {
		t.Fatal("Open of an unsupported version succeeded")
	}
}

// readCorrupt opens and reads id, and requires an ErrCorrupt naming file at
// Open or at the end of the data, never a clean EOF.
func readCorrupt(t *testing.T, s *snapshot.FileSnapshotStore, id, file string) {
	t.Helper()
	_, rc, err := s.Open(id)
	if err == nil {
		_, err = io.ReadAll(rc)
		must(t, rc.Close())
	}
	if err == nil {
		t.Fatal("corrupt snapshot read without error")
	}
	if !errors.Is(err, raft.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Join(s.Path(), id, file)) {
		t.Fatalf("error %q: want raft.ErrCorrupt naming %s", err, file)
	}
}

func TestFileCRCMismatch(t *testing.T) {
	s := newFileStore(t, 5)
	data := strings.Repeat("snapshot data ", 50000)
	id := writeSnap(t, s, 10, 1, data)
	state := filepath.Join(s.Path(), id, "state.bin")
	b, err := os.ReadFile(state)
	must(t, err)
	b[len(b)/2] ^= 1
	must(t, os.WriteFile(state, b, 0o644))
	readCorrupt(t, s, id, "state.bin")

	// A reader that stops early sees no error; one that reads on, sees it
	// again on every call.
	_, rc, err := s.Open(id)
	must(t, err)
	buf := make([]byte, 10)
	_, err = io.ReadFull(rc, buf)
	must(t, err)
	_, err = io.Copy(io.Discard, rc)
	if !errors.Is(err, raft.ErrCorrupt) {
		t.Fatalf("copy: %v", err)
	}
	if _, err2 := rc.Read(buf); !errors.Is(err2, raft.ErrCorrupt) {
		t.Fatalf("read after the error: %v", err2)
	}
	must(t, rc.Close())
}

func TestFileTruncatedState(t *testing.T) {
	s := newFileStore(t, 5)
	id := writeSnap(t, s, 10, 1, "0123456789")
	must(t, os.Truncate(filepath.Join(s.Path(), id, "state.bin"), 5))
	readCorrupt(t, s, id, "state.bin")
}

func TestFileMalformedMeta(t *testing.T) {
	for name, content := range map[string]string{
		"empty":     "",
		"garbage":   "\x00\x01garbage",
		"truncated": `{"Version":1,"ID":"`,
		"trailing":  `{"Version":1,"ID":"x","Size":1,"CRC":"AAAAAAAAAAA="} {}`,
		"wrongtype": `{"Version":"one"}`,
		"negative":  `{"Version":1,"ID":"x","Size":-1}`,
		"noCRC":     `{"Version":1,"ID":"ID","Size":4,"CRC":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newFileStore(t, 5)
			good := writeSnap(t, s, 5, 1, "good")
			id := writeSnap(t, s, 10, 1, "data")
			metaPath := filepath.Join(s.Path(), id, "meta.json")
			must(t, os.WriteFile(metaPath, []byte(strings.ReplaceAll(content, `"ID":"ID"`, `"ID":"`+id+`"`)), 0o644))
			list, err := s.List()
			must(t, err)
			if len(list) != 1 || list[0].ID != good {
				t.Fatalf("List = %d snapshots, want only the good one", len(list))
			}
			readCorrupt(t, s, id, "meta.json")
		})
	}
}

func TestFileOpenRejectsPaths(t *testing.T) {
	s := newFileStore(t, 5)
	writeSnap(t, s, 5, 1, "x")
	for _, id := range []string{"", ".", "..", "../snapshots", "a/b", "1-1-1.tmp", `a\b`} {
		if _, _, err := s.Open(id); err == nil {
			t.Fatalf("Open(%q) succeeded", id)
		}
	}
}

func TestFileCancelRemovesTmp(t *testing.T) {
	s := newFileStore(t, 5)
	sink, err := s.Create(1, 10, 3, cfg, 1, nil)
	must(t, err)
	_, err = sink.Write([]byte("x"))
	must(t, err)
	must(t, sink.Cancel())
	entries, err := os.ReadDir(s.Path())
	must(t, err)
	if len(entries) != 0 {
		t.Fatalf("%d entries left after Cancel", len(entries))
	}
}

func TestDiscardSnapshotStore(t *testing.T) {
	s := snapshot.NewDiscardSnapshotStore()
	sink, err := s.Create(1, 10, 3, cfg, 1, nil)
	must(t, err)
	if sink.ID() != "discard" {
		t.Fatalf("ID %q", sink.ID())
	}
	if n, err := sink.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	must(t, sink.Close())
	must(t, sink.Cancel())
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("List = %v, %v", l, err)
	}
	if _, _, err := s.Open("discard"); err == nil {
		t.Fatal("Open succeeded")
	}
	var _ snapshot.SnapshotStore = s
}

// FileOptions.ReadOnly reads an existing store without writing anything to
// its directory (no permission probe), and refuses Create; it does not
// create a missing directory.
func TestFileReadOnly(t *testing.T) {
	base := t.TempDir()
	w, err := snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{Base: base, Retain: 2})
	must(t, err)
	id := writeSnap(t, w, 10, 2, "state")
	st, err := os.Stat(w.Path())
	must(t, err)
	if !isRoot() {
		must(t, os.Chmod(w.Path(), 0o555))
		t.Cleanup(func() { _ = os.Chmod(w.Path(), 0o755) })
	}

	r, err := snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{Base: base, Retain: 1, ReadOnly: true})
	must(t, err)
	metas, err := r.List()
	must(t, err)
	if len(metas) != 1 || metas[0].ID != id {
		t.Fatalf("List: %+v", metas)
	}
	_, rc, err := r.Open(id)
	must(t, err)
	b, err := io.ReadAll(rc)
	must(t, err)
	must(t, rc.Close())
	if string(b) != "state" {
		t.Fatalf("Open read %q", b)
	}
	if _, err := r.Create(1, 11, 2, cfg, 1, nil); !errors.Is(err, snapshot.ErrReadOnly) {
		t.Fatalf("Create on a read-only store: %v", err)
	}
	// NB: as root, the mode above does not stop writes: the directory's
	// modification time shows whether anything was created or removed.
	st2, err := os.Stat(w.Path())
	must(t, err)
	if !st2.ModTime().Equal(st.ModTime()) {
		t.Fatalf("the snapshot directory was written: mtime %v, was %v", st2.ModTime(), st.ModTime())
	}

	if _, err := snapshot.NewFileSnapshotStoreWithOptions(snapshot.FileOptions{Base: t.TempDir(), Retain: 1, ReadOnly: true}); err == nil {
		t.Fatal("a read-only store on a missing directory opened")
	}
}

func isRoot() bool { return os.Geteuid() == 0 }
