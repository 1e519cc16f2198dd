package raftboltdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/pontoon-raft/raft/logstore"
	"go.etcd.io/bbolt"
)

// The buckets of raft-boltdb's layout (v1 and v2 alike).
var (
	bucketLogs = []byte("logs")
	bucketConf = []byte("conf")
)

// MigrateToV2 copies the store of raft-boltdb v1 (github.com/boltdb/bolt,
// whose file format bbolt reads) at source into a new store at destination,
// which must not exist, and returns the new store open. Both buckets are
// copied key by key, values as they are. On failure the destination is
// removed.
func MigrateToV2(source, destination string) (_ *BoltStore, err error) {
	if _, err := os.Stat(destination); err == nil {
		return nil, fmt.Errorf("file exists in destination %v", destination)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	src, err := bbolt.Open(source, logstore.DefaultFileMode, &bbolt.Options{ReadOnly: true, Timeout: time.Minute})
	if err != nil {
		return nil, fmt.Errorf("failed opening source database: %v", err)
	}
	defer src.Close()

	dst, err := bbolt.Open(destination, logstore.DefaultFileMode, nil)
	if err != nil {
		return nil, fmt.Errorf("failed creating destination database: %v", err)
	}
	defer func() {
		if err != nil {
			os.Remove(destination)
		}
	}()
	err = src.View(func(stx *bbolt.Tx) error {
		return dst.Update(func(dtx *bbolt.Tx) error {
			for _, name := range [][]byte{bucketConf, bucketLogs} {
				to, err := dtx.CreateBucketIfNotExists(name)
				if err != nil {
					return err
				}
				from := stx.Bucket(name)
				if from == nil {
					continue
				}
				if err := from.ForEach(func(k, v []byte) error { return to.Put(k, v) }); err != nil {
					return fmt.Errorf("failed to copy %s bucket: %v", name, err)
				}
			}
			return nil
		})
	})
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("failed copying to destination database: %v", err)
	}
	return NewBoltStore(destination)
}
