// Package store keeps what the daemon must not forget across restarts, in a
// bbolt file under the state directory: programs added at run time, the
// desired state a user gave each process (started or stopped), and the pid
// and start time of each running process, so that after a crash the next
// daemon can find and end what the last one left behind.
//
// It stores bytes the daemon hands it; it knows nothing of processes.
//
// OpenImport creates a state file that starts with the programs and desired
// states of another one (the state directory every configuration shared
// before each got its own), which it only reads.
//
// A missing state file is a first start: Open creates it (under a temporary
// name, renamed once initialized, so a crash during creation never leaves a
// half-made state.db). An existing state file that cannot be read whole —
// empty, shorter than its own pages say, with a bad page or a bad checksum —
// is corruption: Open refuses it with a *CorruptError, having moved the file
// aside to state.db.corrupt-TIMESTAMP, and never starts silently empty.
// Starting again then begins with an empty state.
//
// Every write is one bbolt transaction, synced before the method returns: a
// nil error means the change is on disk.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	bucketPrograms = []byte("programs")
	bucketDesired  = []byte("desired")
	bucketRunning  = []byte("running")
	bucketSession  = []byte("session")
	keySession     = []byte("session")
)

var buckets = [][]byte{bucketPrograms, bucketDesired, bucketRunning, bucketSession}

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
	db       *bolt.DB
	path     string
	imported string                // see ImportedFrom
	fault    atomic.Pointer[error] // see FailWrites
}

// FileName is the state file's name in the state directory.
const FileName = "state.db"

// CorruptError reports a state file that Open refused as corrupt.
type CorruptError struct {
	Path    string // the state file
	MovedTo string // where it was moved aside; "" if the move failed
	Reason  error
}

func (e *CorruptError) Error() string {
	if e.MovedTo == "" {
		return fmt.Sprintf("state file %s is corrupt (%v) and could not be moved aside; "+
			"move or remove it, then start again to begin with an empty state (programs added at run time and desired states are then lost)", e.Path, e.Reason)
	}
	return fmt.Sprintf("state file %s is corrupt (%v); it was moved to %s. "+
		"Start the daemon again to begin with an empty state: the programs of the configuration file are unaffected, "+
		"but the programs added at run time and the desired states the file held are not restored", e.Path, e.Reason, e.MovedTo)
}

func (e *CorruptError) Unwrap() error { return e.Reason }

// Open opens (creating it and its directory, mode 0700, if needed) the state
// file state.db in dir. A corrupt file is moved aside and reported as a
// *CorruptError.
func Open(dir string) (*Store, error) { return OpenImport(dir, "") }

// OpenImport is Open, except that when it creates the state file and the
// directory from holds a state file, the new file starts with from's
// programs added at run time and desired states (not its live processes:
// their daemon run is not this file's). The copy is part of the creation: a
// crash leaves either no new file or one with the copy. from is only read.
//
// The daemon uses it to move from the state directory every configuration
// shared to one directory per configuration: each configuration's first
// start takes what it saw before, and from then on its state is its own.
// A from that is locked (a daemon runs on it) or corrupt is an error naming
// it; nothing is created then.
func OpenImport(dir, from string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	imported := ""
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if imported, err = create(path, from); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("state file %s: %w", path, err)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("state file %s: not a regular file", path)
	case st.Size() == 0:
		// bbolt would initialize an empty file as a new database, and the
		// daemon would start with every program added at run time lost.
		return nil, moveAside(path, errors.New("the file is empty"))
	}
	db, err := openChecked(path, false)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return nil, moveAside(path, ce.Reason)
		}
		return nil, err
	}
	return &Store{db: db, path: path, imported: imported}, nil
}

// create makes a new state file under a temporary name and renames it into
// place once its buckets exist, hold what is imported from the state
// directory from (if any), and are synced.
// It returns the file imported from, if any.
func create(path, from string) (string, error) {
	var imported map[string]map[string][]byte
	if from != "" {
		var err error
		if imported, err = readImport(filepath.Join(from, FileName)); err != nil {
			return "", err
		}
	}
	tmp := path + ".new"
	_ = os.Remove(tmp) // left by a crash during an earlier creation
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return "", fmt.Errorf("state file %s: create: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			bk, err := tx.CreateBucketIfNotExists(b)
			if err != nil {
				return err
			}
			for k, v := range imported[string(b)] {
				if err := bk.Put([]byte(k), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("state file %s: create: %w", path, err)
	}
	if imported == nil {
		return "", nil
	}
	return filepath.Join(from, FileName), nil
}

// importBuckets are what OpenImport copies.
var importBuckets = [][]byte{bucketPrograms, bucketDesired}

// readImport reads the buckets OpenImport copies from the state file path;
// a missing file is nothing to import.
func readImport(path string) (map[string]map[string][]byte, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("import state file %s: %w", path, err)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("import state file %s: not a regular file", path)
	case st.Size() == 0:
		return nil, fmt.Errorf("import state file %s: the file is empty; move it away to start without it", path)
	}
	db, err := openChecked(path, true)
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("import state file %s: it is corrupt (%v); move it away to start without it", path, ce.Reason)
		}
		return nil, fmt.Errorf("import: %w", err)
	}
	defer db.Close()
	out := map[string]map[string][]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		for _, name := range importBuckets {
			b := tx.Bucket(name)
			if b == nil {
				continue
			}
			m := map[string][]byte{}
			if err := b.ForEach(func(k, v []byte) error {
				if v != nil {
					m[string(k)] = slices.Clone(v)
				}
				return nil
			}); err != nil {
				return err
			}
			out[string(name)] = m
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import state file %s: %w", path, err)
	}
	return out, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// openChecked opens path with bbolt and reads it whole before anything
// writes to it. bbolt maps the file and trusts it: a truncated file faults
// (SIGBUS) and a garbled page panics inside bbolt. The open and the walk run
// with faults turned into panics (debug.SetPanicOnFault) and every panic
// recovered, so a corrupt file is an error, not a crash; bbolt's own Tx.Check
// (on its own goroutine, after the walk has touched every reachable page
// safely) then checks the structure.
// A readOnly open takes a shared lock and changes nothing.
func openChecked(path string, readOnly bool) (db *bolt.DB, err error) {
	corrupt := func(reason error) error { return &CorruptError{Path: path, Reason: reason} }
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			// The mapping and the descriptor of a file that faulted are
			// left to the process: closing would touch the file again.
			db, err = nil, corrupt(fmt.Errorf("reading it failed: %v", r))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("state file %s is locked: is another corral daemon running with this state_dir?", path)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
			errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
			return nil, corrupt(err)
		case strings.Contains(err.Error(), "file size too small"):
			return nil, corrupt(err)
		}
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		if need := tx.Size(); need > st.Size() {
			return fmt.Errorf("the file is truncated: %d bytes, its pages need %d", st.Size(), need)
		}
		if err := walk(tx); err != nil {
			return err
		}
		var first error
		for cerr := range tx.Check() {
			if first == nil { // drain the rest: Check's goroutine ends when its channel is read
				first = fmt.Errorf("consistency check: %w", cerr)
			}
		}
		return first
	})
	if err != nil {
		_ = db.Close()
		return nil, corrupt(err)
	}
	if readOnly {
		return db, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return db, nil
}

// walk reads every key and value of every bucket, so every reachable page is
// touched on the calling goroutine.
func walk(tx *bolt.Tx) error {
	var inBucket func(b *bolt.Bucket) error
	inBucket = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					return inBucket(sub)
				}
			}
			return nil
		})
	}
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return inBucket(b) })
}

// moveAside renames a corrupt state file to state.db.corrupt-TIMESTAMP.
func moveAside(path string, reason error) error {
	e := &CorruptError{Path: path, Reason: reason}
	to := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(path, to); err == nil {
		e.MovedTo = to
		_ = syncDir(filepath.Dir(path))
	}
	return e
}

// FailWrites makes every later write fail with err, as a full disk would
// (writes that fit in pages the file already has do succeed on a full
// disk, so a test cannot count on one); nil ends it. It is for tests of
// what callers do when the state cannot be saved.
func (s *Store) FailWrites(err error) {
	if err == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&err)
}

// ImportedFrom returns the state file OpenImport copied from when it
// created this one, or "".
func (s *Store) ImportedFrom() string { return s.imported }

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// update runs fn in a write transaction, synced to disk before it returns;
// an error names the state file (a full disk must be traceable to it).
func (s *Store) update(fn func(*bolt.Tx) error) error {
	if err := s.fault.Load(); err != nil {
		return fmt.Errorf("state file %s: %w", s.path, *err)
	}
	if err := s.db.Update(fn); err != nil {
		return fmt.Errorf("state file %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) put(bucket []byte, key string, v any) error {
	return s.update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucket), key, v, v == nil) })
}

// putJSON stores v under key, or deletes key when del is set.
func putJSON(b *bolt.Bucket, key string, v any, del bool) error {
	if del {
		return b.Delete([]byte(key))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
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

// SetDesiredBatch records the desired state of many processes ("" forgets
// one) in one transaction: all are on disk, or none.
func (s *Store) SetDesiredBatch(want map[string]Desired) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDesired)
		for name, d := range want {
			if err := putJSON(b, name, d, d == ""); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForgetProgram forgets, in one transaction, a program added at run time
// (when runtime is set) and the desired states of its processes.
func (s *Store) ForgetProgram(name string, runtime bool, processes []string) error {
	return s.update(func(tx *bolt.Tx) error {
		if runtime {
			if err := tx.Bucket(bucketPrograms).Delete([]byte(name)); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketDesired)
		for _, p := range processes {
			if err := b.Delete([]byte(p)); err != nil {
				return err
			}
		}
		return nil
	})
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
	return s.update(func(tx *bolt.Tx) error {
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

// ReplaceRunning makes running the whole set of live processes, in one
// transaction, and keeps the session that owns them: a resync of the
// records must not make the next run forget what this one left behind.
func (s *Store) ReplaceRunning(running map[string]*Running) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketRunning); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketRunning)
		if err != nil {
			return err
		}
		for name, r := range running {
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

// Session identifies the daemon run that recorded the live processes, so
// the next run can tell what the last one left behind.
type Session struct {
	// BootID is /proc/sys/kernel/random/boot_id when the run began: after
	// a reboot nothing the run recorded is alive, whatever pids match.
	BootID string `json:"boot_id"`
	// Token is a random value the run put in every process's environment,
	// so a process it spawned but had not yet recorded can still be found.
	Token string `json:"token"`
}

// SetSession records the daemon run that now owns the live processes.
func (s *Store) SetSession(sess Session) error {
	return s.update(func(tx *bolt.Tx) error { return putSession(tx, sess) })
}

func putSession(tx *bolt.Tx, sess Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSession).Put(keySession, data)
}

// BeginSession forgets every live process the last run recorded and records
// sess as the run that owns the live processes from now on: ClearRunning
// and SetSession in one transaction (one write, not two, before a daemon
// starts anything).
func (s *Store) BeginSession(sess Session) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := clearRunning(tx); err != nil {
			return err
		}
		return putSession(tx, sess)
	})
}

// PreviousSession returns the recorded daemon run; ok is false when none is
// recorded (a first start, or the last run stopped cleanly).
func (s *Store) PreviousSession() (sess Session, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSession).Get(keySession)
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &sess)
	})
	return sess, ok, err
}

// ClearRunning forgets every live process and the run that recorded them.
func (s *Store) ClearRunning() error { return s.update(clearRunning) }

func clearRunning(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketRunning, bucketSession} {
		if err := tx.DeleteBucket(b); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(b); err != nil {
			return err
		}
	}
	return nil
}
