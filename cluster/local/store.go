// Package local is the single-node ipam.Store: one bbolt file. It is the
// default for standalone use and for tests; the file lock makes one caned
// its only writer.
//
// Durability: every write is fsynced before it returns (bbolt's default).
// Allocation writes of concurrent callers share one transaction and one
// fsync (groupCommit). A crash loses only writes that had not returned:
// IPAM hands an address out only after its PutAllocation returned, and
// forgets one only after its DeleteAllocation returned, so nothing handed
// out is ever lost and no address is handed out twice. A write in flight
// at the crash either landed (an allocation nobody was told of: a leak
// that GC collects; a deletion whose DEL the runtime retries) or did not.
package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cane-cni/cane/ipam"
)

var (
	bucketBlocks = []byte("blocks")      // key: block CIDR
	bucketAllocs = []byte("allocations") // sub-bucket per node; key: IP
)

// Store is an ipam.Store in a bbolt file. bbolt takes no context: a call
// checks ctx before it starts and then runs to the end (a local write
// takes milliseconds), so a call that returns an error changed nothing.
type Store struct {
	db *bolt.DB
	// writeAlloc runs an allocation write: group commit, or (benchmarks) a
	// transaction of its own or bolt's Batch.
	writeAlloc func(func(*bolt.Tx) error) error
}

var _ ipam.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path. It fails after 5s if
// another process holds the file.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketBlocks, bucketAllocs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init store %s: %w", path, err)
	}
	g := &groupCommit{db: db}
	return &Store{db: db, writeAlloc: g.do}, nil
}

// Close releases the file.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) Blocks(ctx context.Context, pool string) ([]ipam.Block, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []ipam.Block
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlocks).ForEach(func(k, v []byte) error {
			var b ipam.Block
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("block %s: %w", k, err)
			}
			if b.Pool == pool {
				out = append(out, b)
			}
			return nil
		})
	})
	return out, err
}

func (s *Store) ClaimBlock(ctx context.Context, b ipam.Block) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBlocks)
		key := []byte(b.CIDR.String())
		if bk.Get(key) != nil {
			return ipam.ErrBlockTaken
		}
		return putJSON(bk, key, b)
	})
}

func (s *Store) ReleaseBlock(ctx context.Context, b ipam.Block) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBlocks)
		key := []byte(b.CIDR.String())
		v := bk.Get(key)
		if v == nil {
			return nil
		}
		var cur ipam.Block
		if err := json.Unmarshal(v, &cur); err != nil {
			return fmt.Errorf("block %s: %w", key, err)
		}
		if cur.Node != b.Node {
			return nil
		}
		return bk.Delete(key)
	})
}

func (s *Store) Allocations(ctx context.Context, node string) ([]ipam.Allocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []ipam.Allocation
	err := s.db.View(func(tx *bolt.Tx) error {
		nb := tx.Bucket(bucketAllocs).Bucket([]byte(node))
		if nb == nil {
			return nil
		}
		return nb.ForEach(func(k, v []byte) error {
			var a ipam.Allocation
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("allocation %s: %w", k, err)
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// PutAllocation records a, sharing a transaction with concurrent writes;
// it is durable when it returns nil.
func (s *Store) PutAllocation(ctx context.Context, node string, a ipam.Allocation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	// Idempotent (it may run twice): the node's bucket is created if
	// missing, and the same value is put under the same key.
	return s.writeAlloc(func(tx *bolt.Tx) error {
		nb, err := tx.Bucket(bucketAllocs).CreateBucketIfNotExists([]byte(node))
		if err != nil {
			return err
		}
		return nb.Put([]byte(a.IP.String()), data)
	})
}

// DeleteAllocation forgets ip's allocation, sharing a transaction with
// concurrent writes; it is durable when it returns nil.
func (s *Store) DeleteAllocation(ctx context.Context, node string, ip netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Idempotent: deleting an absent key is no error.
	return s.writeAlloc(func(tx *bolt.Tx) error {
		nb := tx.Bucket(bucketAllocs).Bucket([]byte(node))
		if nb == nil {
			return nil
		}
		return nb.Delete([]byte(ip.String()))
	})
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}
