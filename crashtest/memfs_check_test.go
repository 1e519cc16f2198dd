package crashtest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// mountOrSkip mounts a memFS at dir, skipping the test where FUSE is not
// available (no /dev/fuse, not root, no fuse module).
func mountOrSkip(t *testing.T, dir string) *memMount {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("skipped: FUSE is unavailable (%v); the power-failure tests need /dev/fuse and root", err)
	}
	m, err := mountMemFS(dir)
	if errors.Is(err, errNoFUSE) {
		t.Skipf("skipped: FUSE is unavailable: %v (the power-failure tests need /dev/fuse and root)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMemFS checks the file system the power-failure test relies on: what
// was fsynced (file data and size; directory entries) survives a power
// failure, nothing else does, and the current state is what programs see
// until then.
func TestMemFS(t *testing.T) {
	dir := t.TempDir()
	m := mountOrSkip(t, dir)
	defer func() {
		if err := m.unmount(); err != nil {
			t.Error(err)
		}
	}()
	p := func(name string) string { return filepath.Join(dir, name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	syncPath := func(path string) {
		t.Helper()
		f, err := os.Open(path)
		must(err)
		must(f.Sync())
		must(f.Close())
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes: several pages

	// durable: created, written, fsynced, its name fsynced; then more
	// data that is not fsynced. a, r and d: directories whose names are
	// durable.
	must(os.WriteFile(p("durable"), big, 0o644))
	syncPath(p("durable"))
	for _, d := range []string{"a", "r", "d"} {
		must(os.Mkdir(p(d), 0o755))
	}
	syncPath(dir)
	f, err := os.OpenFile(p("durable"), os.O_WRONLY, 0)
	must(err)
	_, err = f.WriteAt([]byte("tail"), int64(len(big)))
	if err == nil {
		_, err = f.WriteAt([]byte("XXXX"), 10)
	}
	must(errors.Join(err, f.Close()))
	// a/nameless: fsynced data, but its directory never fsynced after it.
	must(os.WriteFile(p("a/nameless"), []byte("data"), 0o644))
	syncPath(p("a/nameless"))
	// sub/inner: directory and file both fsynced, but sub's name is not.
	must(os.Mkdir(p("sub"), 0o755))
	must(os.WriteFile(p("sub/inner"), []byte("x"), 0o644))
	syncPath(p("sub/inner"))
	syncPath(p("sub"))
	// r/old: a durable file renamed without fsyncing the directory.
	must(os.WriteFile(p("r/old"), []byte("old"), 0o644))
	syncPath(p("r/old"))
	syncPath(p("r"))
	must(os.Rename(p("r/old"), p("r/new")))
	// d/removed: a durable file removed without fsyncing the directory.
	must(os.WriteFile(p("d/removed"), []byte("r"), 0o644))
	syncPath(p("d/removed"))
	syncPath(p("d"))
	must(os.Remove(p("d/removed")))

	got, err := os.ReadFile(p("durable"))
	must(err)
	want := append(append([]byte(nil), big...), "tail"...)
	copy(want[10:], "XXXX")
	if !bytes.Equal(got, want) {
		t.Fatalf("before the power failure: durable has %d bytes, not what was written", len(got))
	}
	must(m.powerFail())

	got, err = os.ReadFile(p("durable"))
	must(err)
	if !bytes.Equal(got, big) {
		t.Errorf("after: durable has %d bytes (%q...), want the %d fsynced ones", len(got), got[:20], len(big))
	}
	for _, name := range []string{"a/nameless", "sub", "r/new"} {
		if _, err := os.Stat(p(name)); !os.IsNotExist(err) {
			t.Errorf("after: %s exists (%v), but its name was never made durable", name, err)
		}
	}
	for name, content := range map[string]string{"r/old": "old", "d/removed": "r"} {
		if b, err := os.ReadFile(p(name)); err != nil || string(b) != content {
			t.Errorf("after: %s = %q, %v; want %q (the change to its name was not durable)", name, b, err, content)
		}
	}
}
