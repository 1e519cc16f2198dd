package logstore

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

const residentTrimSupported = true

// dropMapped drops the resident pages of the mapping of file path that
// starts at addr (madvise MADV_DONTNEED). The range comes from
// /proc/self/maps, never from bbolt's internals, and must map path's inode,
// so nothing outside that one mapping is advised; the caller guarantees it
// is not unmapped meanwhile.
func dropMapped(addr uintptr, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("no inode for %s", path)
	}
	end, err := mappingEnd(addr, st.Ino)
	if err != nil {
		return err
	}
	for {
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, end-addr, syscall.MADV_DONTNEED)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR, syscall.EAGAIN:
			continue
		default:
			return fmt.Errorf("madvise: %w", errno)
		}
	}
}

// mappingEnd returns the end of the mapping of inode ino starting exactly
// at addr.
func mappingEnd(addr uintptr, ino uint64) (uintptr, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	want := strconv.FormatUint(uint64(addr), 16) + "-"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, want) {
			continue
		}
		// "start-end perms offset dev inode path"
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[4] != strconv.FormatUint(ino, 10) {
			return 0, fmt.Errorf("mapping at %#x is not of inode %d: %q", addr, ino, line)
		}
		end, err := strconv.ParseUint(strings.TrimPrefix(fields[0], want), 16, 64)
		if err != nil || uintptr(end) <= addr {
			return 0, fmt.Errorf("cannot parse mapping %q", line)
		}
		return uintptr(end), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no mapping at %#x in /proc/self/maps", addr)
}
