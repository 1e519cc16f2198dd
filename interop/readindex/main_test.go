// Package readindex tests Pontoon's ReadIndex on a follower in a mixed
// cluster whose leader is a hashicorp/raft v1.8.0 node.
package readindex

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
