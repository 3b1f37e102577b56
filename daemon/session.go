package daemon

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/ovs"
)

// session is caned's connection to ovsdb-server and whether it is ready
// to serve CNI requests. Lock-free (atomics): read on every request.
type session struct {
	endpoint string
	db       atomic.Pointer[ovs.DB]
	ready    atomic.Bool
	why      atomic.Value  // string: why not ready
	datapath atomic.Value  // string: the bridge's datapath type
	resyncs  atomic.Uint64 // full reconciles since start
}

func newSession(endpoint string) *session {
	s := &session{endpoint: endpoint}
	s.why.Store("starting")
	s.datapath.Store("")
	return s
}

// current is the live connection, or an error if there is none.
func (s *session) current() (*ovs.DB, error) {
	db := s.db.Load()
	if db == nil || !db.Connected() {
		return nil, errors.New("not connected to ovsdb-server")
	}
	return db, nil
}

// forCNI is the live connection, or the CNI error for its absence: try
// again later (11).
func (s *session) forCNI() (*ovs.DB, *types.Error) {
	db, err := s.current()
	if err != nil {
		return nil, types.NewError(types.ErrTryAgainLater, "Open vSwitch is not reachable", err.Error())
	}
	return db, nil
}

// connect returns the live connection, dialling a fresh one if the last
// was lost.
func (s *session) connect(ctx context.Context) (*ovs.DB, error) {
	if db, err := s.current(); err == nil {
		return db, nil
	}
	if old := s.db.Load(); old != nil {
		old.Close()
	}
	db, err := ovs.Connect(ctx, s.endpoint)
	if err != nil {
		return nil, err
	}
	s.db.Store(db)
	return db, nil
}

func (s *session) setReady() { s.ready.Store(true) }

func (s *session) setNotReady(why string) {
	s.why.Store(why)
	s.ready.Store(false)
}

func (s *session) isReady() bool { return s.ready.Load() }

// reason is why the daemon is not ready ("" when it is).
func (s *session) reason() string {
	if s.ready.Load() {
		return ""
	}
	why, _ := s.why.Load().(string)
	return why
}

func (s *session) dp() string {
	dp, _ := s.datapath.Load().(string)
	return dp
}

func (s *session) close() {
	if db := s.db.Load(); db != nil {
		db.Close()
	}
}
