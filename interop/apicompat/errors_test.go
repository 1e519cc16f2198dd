package apicompat

import (
	"testing"

	hashicorp "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	facade "github.com/pontoon-raft/raft/adapters/hcraft"
	facadebolt "github.com/pontoon-raft/raft/adapters/raftboltdb"
)

// Services compare and print hashicorp/raft's sentinel errors, so the
// facade's must have the same texts. (TestFacadeAPI checks that the facade
// has every one; this checks what they say.)
func TestErrorTexts(t *testing.T) {
	pairs := []struct {
		name      string
		want, got error
	}{
		{"ErrAbortedByRestore", hashicorp.ErrAbortedByRestore, facade.ErrAbortedByRestore},
		{"ErrCantBootstrap", hashicorp.ErrCantBootstrap, facade.ErrCantBootstrap},
		{"ErrEnqueueTimeout", hashicorp.ErrEnqueueTimeout, facade.ErrEnqueueTimeout},
		{"ErrIncompatibleLogStore", hashicorp.ErrIncompatibleLogStore, facade.ErrIncompatibleLogStore},
		{"ErrLeader", hashicorp.ErrLeader, facade.ErrLeader},
		{"ErrLeadershipLost", hashicorp.ErrLeadershipLost, facade.ErrLeadershipLost},
		{"ErrLeadershipTransferInProgress", hashicorp.ErrLeadershipTransferInProgress, facade.ErrLeadershipTransferInProgress},
		{"ErrLogNotFound", hashicorp.ErrLogNotFound, facade.ErrLogNotFound},
		{"ErrNotLeader", hashicorp.ErrNotLeader, facade.ErrNotLeader},
		{"ErrNotVoter", hashicorp.ErrNotVoter, facade.ErrNotVoter},
		{"ErrNothingNewToSnapshot", hashicorp.ErrNothingNewToSnapshot, facade.ErrNothingNewToSnapshot},
		{"ErrPipelineReplicationNotSupported", hashicorp.ErrPipelineReplicationNotSupported, facade.ErrPipelineReplicationNotSupported},
		{"ErrPipelineShutdown", hashicorp.ErrPipelineShutdown, facade.ErrPipelineShutdown},
		{"ErrRaftShutdown", hashicorp.ErrRaftShutdown, facade.ErrRaftShutdown},
		{"ErrTransportShutdown", hashicorp.ErrTransportShutdown, facade.ErrTransportShutdown},
		{"ErrUnsupportedProtocol", hashicorp.ErrUnsupportedProtocol, facade.ErrUnsupportedProtocol},
		{"raftboltdb.ErrKeyNotFound", raftboltdb.ErrKeyNotFound, facadebolt.ErrKeyNotFound},
	}
	for _, p := range pairs {
		if p.want.Error() != p.got.Error() {
			t.Errorf("%s: hashicorp says %q, the facade %q", p.name, p.want, p.got)
		}
	}
}
