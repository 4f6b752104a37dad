// Package store keeps what the daemon must not forget across restarts, in a
// bbolt file under the state directory: programs added at run time, the
// desired state a user gave each process (started or stopped), and the pid
// and start time of each running process, so that after a crash the next
// daemon can find and end what the last one left behind.
//
// It stores bytes the daemon hands it; it knows nothing of processes.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	bucketPrograms = []byte("programs")
	bucketDesired  = []byte("desired")
	bucketRunning  = []byte("running")
)

// Desired is the state a user asked a process to be in.
type Desired string

// The desired states.
const (
	Started Desired = "started"
	Stopped Desired = "stopped"
)

// Running identifies one live process precisely enough to tell it from a later
// process that reuses its pid.
type Running struct {
	Pid int `json:"pid"`
	// StartTicks is field 22 of /proc/PID/stat: clock ticks after boot.
	StartTicks uint64 `json:"start_ticks"`
}

// Store is an open state file.
type Store struct {
	db *bolt.DB
}

// Open opens (creating it and its directory, mode 0700, if needed) the state
// file state.db in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "state.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("state file %s is locked: is another corral daemon running with this state_dir?", path)
		}
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPrograms, bucketDesired, bucketRunning} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) put(bucket []byte, key string, v any) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if v == nil {
			return b.Delete([]byte(key))
		}
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), data)
	})
}

func all[T any](s *Store, bucket []byte) (map[string]T, error) {
	out := map[string]T{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var t T
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("%s/%s: %w", bucket, k, err)
			}
			out[string(k)] = t
			return nil
		})
	})
	return out, err
}

// PutProgram records a program added at run time; data is its definition,
// encoded by the caller.
func (s *Store) PutProgram(name string, data json.RawMessage) error {
	return s.put(bucketPrograms, name, data)
}

// DeleteProgram forgets a program added at run time.
func (s *Store) DeleteProgram(name string) error { return s.put(bucketPrograms, name, nil) }

// Programs returns every program added at run time.
func (s *Store) Programs() (map[string]json.RawMessage, error) {
	return all[json.RawMessage](s, bucketPrograms)
}

// SetDesired records the state a user asked a process to be in; "" forgets it.
func (s *Store) SetDesired(process string, d Desired) error {
	if d == "" {
		return s.put(bucketDesired, process, nil)
	}
	return s.put(bucketDesired, process, d)
}

// DesiredStates returns every recorded desired state.
func (s *Store) DesiredStates() (map[string]Desired, error) { return all[Desired](s, bucketDesired) }

// SetRunning records a live process; a nil r forgets it.
func (s *Store) SetRunning(process string, r *Running) error {
	if r == nil {
		return s.put(bucketRunning, process, nil)
	}
	return s.put(bucketRunning, process, r)
}

// SetRunningBatch records many live processes (nil values forget them) in
// one transaction: one disk sync however many processes started.
func (s *Store) SetRunningBatch(batch map[string]*Running) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRunning)
		for name, r := range batch {
			if r == nil {
				if err := b.Delete([]byte(name)); err != nil {
					return err
				}
				continue
			}
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(name), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// RunningProcesses returns every process recorded as live.
func (s *Store) RunningProcesses() (map[string]Running, error) { return all[Running](s, bucketRunning) }

// ClearRunning forgets every live process.
func (s *Store) ClearRunning() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketRunning); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketRunning)
		return err
	})
}
