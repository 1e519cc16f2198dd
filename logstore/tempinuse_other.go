//go:build !unix

package logstore

// tempInUse reports whether another process may be using the file at p.
// Without flock it cannot tell: only staleTempAge protects a creation in
// progress, which is enough for one that is not stuck.
func tempInUse(p string) bool { return false }
