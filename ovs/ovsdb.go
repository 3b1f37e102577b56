// Package ovs is the only package that talks to Open vSwitch: OVSDB through
// libovsdb (bridges, ports, external_ids, ofport_request), OpenFlow 1.5
// natively on each bridge's management socket (typed flows from flows/of:
// bundled flow mods, dumps, comparisons), and ovs-appctl for
// ofproto/trace (through go-openvswitch's client) and fdb/stats-show.
package ovs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"

	"github.com/cane-cni/cane/internal/coalesce"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// ErrNotFound: the bridge or port does not exist.
var ErrNotFound = errors.New("not found")

// DB is a connection to ovsdb-server with a live cache of the tables Cane
// uses. Safe for concurrent use.
type DB struct {
	c client.Client

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every cache update
	lost    chan struct{} // closed when the session ends

	insertsOnce sync.Once
	inserts     coalesce.Group[PortConfig] // port inserts of concurrent AddPorts
}

// Connect dials endpoint (e.g. "unix:/var/run/openvswitch/db.sock") and
// starts monitoring. It does not reconnect: when the session ends, Lost is
// closed and the caller makes a new DB and resyncs. (libovsdb's own
// reconnect panics once its backoff gives up, which a node agent must
// never do during a long OVS outage.)
func Connect(ctx context.Context, endpoint string) (*DB, error) {
	m, err := dbModel()
	if err != nil {
		return nil, err
	}
	c, err := client.NewOVSDBClient(m, client.WithEndpoint(endpoint))
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect to ovsdb %s: %w", endpoint, err)
	}
	db := &DB{c: c, changed: make(chan struct{}), lost: make(chan struct{})}
	go func() {
		<-c.DisconnectNotify()
		close(db.lost)
	}()
	notify := func() {
		db.mu.Lock()
		close(db.changed)
		db.changed = make(chan struct{})
		db.mu.Unlock()
	}
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { notify() },
		UpdateFunc: func(string, model.Model, model.Model) { notify() },
		DeleteFunc: func(string, model.Model) { notify() },
	})
	// Monitor exactly the models' columns: libovsdb's cache rejects updates
	// that carry columns a partial model does not have, which MonitorAll
	// (every schema column) would send.
	var opts []client.MonitorOption
	for _, m := range []model.Model{&ovsRoot{}, &bridge{}, &port{}, &iface{}} {
		opts = append(opts, client.WithTable(m, columns(m)...))
	}
	mon := c.NewMonitor(opts...)
	if _, err := c.Monitor(ctx, mon); err != nil {
		c.Disconnect()
		return nil, fmt.Errorf("monitor ovsdb %s: %w", endpoint, err)
	}
	return db, nil
}

// Close ends the session for good.
func (db *DB) Close() { db.c.Close() }

// Lost is closed when the session to ovsdb-server has ended.
func (db *DB) Lost() <-chan struct{} { return db.lost }

// Connected reports whether the session to ovsdb-server is up. (libovsdb's
// own Connected stays true after a disconnect when it does not reconnect.)
func (db *DB) Connected() bool {
	select {
	case <-db.lost:
		return false
	default:
		return db.c.Connected()
	}
}

// waitFor calls check after every cache change until it returns true, an
// error, or ctx ends.
func (db *DB) waitFor(ctx context.Context, check func() (bool, error)) error {
	for {
		db.mu.Lock()
		ch := db.changed
		db.mu.Unlock()
		ok, err := check()
		if err != nil || ok {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (db *DB) transact(ctx context.Context, what string, ops ...ovsdb.Operation) error {
	res, err := db.c.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Datapath returns the datapath type bridges should use: "system" when the
// openvswitch kernel module is loaded, else "netdev" (userspace).
func Datapath() string {
	if _, err := os.Stat("/sys/module/openvswitch"); err == nil {
		return "system"
	}
	return "netdev"
}

// create makes one insert operation per model (libovsdb's Create takes
// models of one table only).
func (db *DB) create(models ...model.Model) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, m := range models {
		op, err := db.c.Create(m)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op...)
	}
	return ops, nil
}

// columns returns pointers to every field of the model m except _uuid,
// the form libovsdb's WithTable takes to name monitored columns.
func columns(m model.Model) []any {
	v := reflect.ValueOf(m).Elem()
	var out []any
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Tag.Get("ovsdb") != "_uuid" {
			out = append(out, v.Field(i).Addr().Interface())
		}
	}
	return out
}
