package raftimpl

// Double buffers: a slice other goroutines append to under a lock, which
// the driver loop takes whole, leaving its spare (emptied) array in its
// place, and gives back once it has handled the entries (the read inbox,
// late heartbeat answers).

// takeBuffer returns *buf and puts *spare's array, emptied, in its place;
// the caller holds the lock guarding buf.
func takeBuffer[T any](buf, spare *[]T) []T {
	out := *buf
	*buf, *spare = (*spare)[:0], nil
	return out
}

// recycleBuffer clears b (so it holds no references) and keeps it as
// *spare for the next takeBuffer.
func recycleBuffer[T any](spare *[]T, b []T) {
	clear(b)
	*spare = b[:0]
}
