package raftimpl

import (
	raft "github.com/pontoon-raft/raft"
)

// commitItem is one committed entry on its way to the FSM, with the future
// to resolve once it is applied (nil when no local caller waits for it).
type commitItem struct {
	log    *raft.Log
	future *logFuture
}

// runFSM is the apply loop: it applies committed entries in order, batching
// them into BatchingFSM.ApplyBatch when the FSM supports it, and resolves each
// entry's future with the FSM's response. It runs apart from the protocol
// loop so a slow FSM never delays elections or replication.
func (r *Raft) runFSM() {
	defer r.wg.Done()
	batching, isBatching := r.fsm.(raft.BatchingFSM)
	confStore, isConfStore := r.fsm.(raft.ConfigurationStore)

	// Reused between batches; only the apply loop touches them.
	var logs []*raft.Log
	var owners []int

	for {
		var batch []commitItem
		select {
		case batch = <-r.applyCh:
		case <-r.shutdownCh:
			return
		}

		responses := make([]interface{}, len(batch))
		if isBatching {
			logs, owners = logs[:0], owners[:0]
			for i, it := range batch {
				if it.log.Type == raft.LogCommand || it.log.Type == raft.LogConfiguration {
					logs = append(logs, it.log)
					owners = append(owners, i)
				}
			}
			if len(logs) > 0 {
				out := batching.ApplyBatch(logs)
				if len(out) != len(logs) {
					r.logger.Error("BatchingFSM.ApplyBatch returned the wrong number of responses",
						"want", len(logs), "got", len(out))
				}
				for j := 0; j < len(out) && j < len(owners); j++ {
					responses[owners[j]] = out[j]
				}
			}
		} else {
			for i, it := range batch {
				switch it.log.Type {
				case raft.LogCommand:
					responses[i] = r.fsm.Apply(it.log)
				case raft.LogConfiguration:
					if isConfStore {
						c, err := raft.DecodeConfiguration(it.log.Data)
						if err != nil {
							r.logger.Error("skipping undecodable configuration entry", "index", it.log.Index, "error", err)
							continue
						}
						confStore.StoreConfiguration(it.log.Index, c)
					}
				}
			}
		}

		last := batch[len(batch)-1].log.Index
		r.appliedIndex.Store(last)
		for i, it := range batch {
			if it.future != nil {
				it.future.respond(nil, it.log.Index, responses[i])
			}
		}
		r.metrics.IncrCounter([]string{"raft", "fsm", "applied"}, float32(len(batch)))
	}
}
