package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

// ErrFenced is the error of a write (or Load) whose guard failed: the Store's
// election key is gone or is not the one it was created with, so this node no
// longer leads the job and must not act as its leader.
var ErrFenced = errors.New("etcd: fenced: this node no longer leads the job (its election key is gone)")

// DefaultOpTimeout bounds one etcd request of a Store.
const DefaultOpTimeout = 5 * time.Second

// Leadership is what a Store's writes are guarded by: the leader's election
// key and its create revision (concurrency.Election's Key and Rev), and the
// node name written into every value.
type Leadership struct {
	Node string
	Key  string
	Rev  int64
}

// Store is a driver.Store kept in etcd for one job, writing as one leader
// (package doc). It is safe for concurrent use; the driver calls it from one
// goroutine.
type Store struct {
	cli       *clientv3.Client
	job       string
	lead      Leadership
	opTimeout time.Duration

	fenceOnce sync.Once
	fenced    chan struct{}
}

// NewStore returns the Store of job, writing as lead. It does not check the
// leadership: the first Load (guarded) does.
func NewStore(cli *clientv3.Client, job string, lead Leadership) (*Store, error) {
	if err := CheckJobID(job); err != nil {
		return nil, err
	}
	if lead.Node == "" || lead.Key == "" || lead.Rev <= 0 {
		return nil, fmt.Errorf("etcd: store of job %s: leadership %+v: want a node, an election key and its create revision", job, lead)
	}
	return &Store{cli: cli, job: job, lead: lead, opTimeout: DefaultOpTimeout, fenced: make(chan struct{})}, nil
}

// Fenced is closed when a guarded request of this Store failed its guard: from
// then on every write fails with ErrFenced and the job's driver must stop.
func (s *Store) Fenced() <-chan struct{} { return s.fenced }

// Leadership returns what the Store's writes are guarded by.
func (s *Store) Leadership() Leadership { return s.lead }

// Close releases nothing: the client belongs to the caller.
func (s *Store) Close() error { return nil }

// guard is the fencing condition of every request.
func (s *Store) guard() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(s.lead.Key), "=", s.lead.Rev)
}

// txn runs ops if this node still leads; a failed guard fences the Store.
func (s *Store) txn(ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	select {
	case <-s.fenced:
		return nil, ErrFenced
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(s.guard()).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("etcd: job %s: %w", s.job, err)
	}
	if !resp.Succeeded {
		s.fenceOnce.Do(func() { close(s.fenced) })
		return nil, ErrFenced
	}
	return resp, nil
}

func (s *Store) put(key string, v valueEnvelope) error {
	v.Format, v.Writer, v.LeaderRev = valueFormat, s.lead.Node, s.lead.Rev
	body, err := encodeValue(v)
	if err != nil {
		return err
	}
	_, err = s.txn(clientv3.OpPut(key, string(body)))
	return err
}

// Save writes the metadata of a checkpoint or savepoint (R23).
func (s *Store) Save(m driver.Metadata) error {
	if m.ID < 1 || m.ID > fsm.MaxSafeInt {
		return fmt.Errorf("etcd: job %s: save: id %d: want an id in [1, 2^53)", s.job, m.ID)
	}
	return s.put(metadataKey(s.job, m.Kind, m.ID), valueEnvelope{Metadata: &m})
}

// Delete removes the metadata of a checkpoint or savepoint; a missing key is fine.
func (s *Store) Delete(kind fsm.Kind, id int64) error {
	_, err := s.txn(clientv3.OpDelete(metadataKey(s.job, kind, id)))
	return err
}

// SaveOverrides writes the FLIP-571 overrides (R63).
func (s *Store) SaveOverrides(intervalMs, timeoutMs int64) error {
	return s.put(overridesKey(s.job), valueEnvelope{Overrides: &overridesValue{IntervalMs: intervalMs, TimeoutMs: timeoutMs}})
}

// SaveNextID writes the id counter (R14).
func (s *Store) SaveNextID(next int64) error {
	return s.put(nextIDKey(s.job), valueEnvelope{NextID: &next})
}

// SaveRestored records the snapshot the job started from (R41).
func (s *Store) SaveRestored(id int64, noClaim bool) error {
	mode := fsm.Claim
	if noClaim {
		mode = fsm.NoClaim
	}
	return s.put(restoredKey(s.job), valueEnvelope{Restored: &restoredValue{Checkpoint: id, Mode: mode.String()}})
}

// Load reads the job's durable state in one guarded transaction (one
// revision), validating every key: anything else under the job's prefix, or a
// value that does not decode strictly, is an error naming the key.
func (s *Store) Load() (fsm.Durable, error) {
	resp, err := s.txn(clientv3.OpGet(Prefix(s.job), clientv3.WithPrefix()))
	if err != nil {
		return fsm.Durable{NextID: 1}, err
	}
	return decodeDurable(s.job, resp.Responses[0].GetResponseRange().Kvs)
}
