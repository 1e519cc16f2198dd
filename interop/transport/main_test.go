// Package transport holds interoperability tests and benchmarks between
// Pontoon's NetworkTransport and hashicorp/raft v1.8.0's.
package transport

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
