//go:build !linux

package logstore

import "errors"

// Releasing resident pages is implemented on Linux only; elsewhere
// Options.ResidentTrimBytes is ignored.
const residentTrimSupported = false

func dropMapped(uintptr, string) error {
	return errors.New("releasing mapped pages is implemented on Linux only")
}
