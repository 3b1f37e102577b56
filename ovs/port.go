package ovs

import (
	"context"
	"fmt"
	"maps"
	"sort"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// PortConfig is a port to add to a bridge: one interface of the same name.
type PortConfig struct {
	Bridge        string
	Name          string
	Type          string // "" for a system device such as a veth; "vxlan", "internal", ...
	OFPortRequest int    // the ofport Cane wants; 0 lets OVS choose
	MAC           string // internal ports: the MAC OVS gives the device; "" for its own choice
	Options       map[string]string
	ExternalIDs   map[string]string // kept on both the Port and the Interface row
}

// PortInfo is a port as OVS has it.
type PortInfo struct {
	Name        string
	OFPort      int // 0 while vswitchd has not attached it, -1 if it failed
	Type        string
	Error       string
	ExternalIDs map[string]string
	Stats       map[string]int // rx_dropped, tx_dropped, ... as vswitchd reports them
}

// AddPort adds the port and waits until vswitchd has given it an ofport.
// Ports that concurrent callers add meanwhile go into the same
// transaction (one vswitchd reconfiguration for a burst of pods). If
// vswitchd reports an error for the interface, the port is removed again
// and the error returned. Not idempotent: adding an existing name fails
// (the schema's unique index).
func (db *DB) AddPort(ctx context.Context, cfg PortConfig) (int, error) {
	if err := db.insertPort(cfg); err != nil {
		return 0, fmt.Errorf("add port %s: %w", cfg.Name, err)
	}
	var ofport int
	err := db.waitFor(ctx, func() (bool, error) {
		cur := &iface{Name: cfg.Name}
		if err := db.c.Get(ctx, cur); err != nil {
			return false, nil
		}
		if cur.Error != nil && *cur.Error != "" {
			return false, fmt.Errorf("%s", *cur.Error)
		}
		if cur.OFPort != nil && *cur.OFPort > 0 {
			ofport = *cur.OFPort
			return true, nil
		}
		if cur.OFPort != nil && *cur.OFPort < 0 {
			return false, fmt.Errorf("vswitchd could not attach it (ofport -1)")
		}
		return false, nil
	})
	if err != nil {
		_ = db.DeletePort(context.WithoutCancel(ctx), cfg.Bridge, cfg.Name)
		return 0, fmt.Errorf("add port %s: %w", cfg.Name, err)
	}
	return ofport, nil
}

// insertPort commits the port's rows, in one transaction with those of
// concurrent callers (see coalescer).
func (db *DB) insertPort(cfg PortConfig) error {
	db.insertsOnce.Do(func() { db.inserts.Do = bounded(db.insertPorts) })
	return db.inserts.Submit(cfg)
}

// insertPorts adds every port of batch in one transaction.
func (db *DB) insertPorts(ctx context.Context, batch []PortConfig) error {
	var ops []ovsdb.Operation
	added := map[string][]string{} // bridge -> new port UUIDs
	for i, cfg := range batch {
		it := &iface{UUID: fmt.Sprintf("newiface%d", i), Name: cfg.Name, Type: cfg.Type, Options: cfg.Options, ExternalIDs: cfg.ExternalIDs}
		if cfg.OFPortRequest > 0 {
			it.OFPortRequest = &cfg.OFPortRequest
		}
		if cfg.MAC != "" {
			it.MAC = &cfg.MAC
		}
		p := &port{UUID: fmt.Sprintf("newport%d", i), Name: cfg.Name, Interfaces: []string{it.UUID}, ExternalIDs: cfg.ExternalIDs}
		create, err := db.create(it, p)
		if err != nil {
			return err
		}
		ops = append(ops, create...)
		added[cfg.Bridge] = append(added[cfg.Bridge], p.UUID)
	}
	for name, uuids := range added {
		br := &bridge{Name: name}
		if err := db.c.Get(ctx, br); err != nil {
			return fmt.Errorf("bridge %s: %w", name, ErrNotFound)
		}
		mut, err := db.c.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: uuids})
		if err != nil {
			return err
		}
		ops = append(ops, mut...)
	}
	return db.transact(ctx, fmt.Sprintf("add %d ports", len(batch)), ops...)
}

// DeletePort removes the port from the bridge (OVSDB then drops its Port
// and Interface rows). Idempotent: a missing port is not an error.
func (db *DB) DeletePort(ctx context.Context, bridgeName, name string) error {
	p := &port{Name: name}
	if err := db.c.Get(ctx, p); err != nil {
		return nil
	}
	br := &bridge{Name: bridgeName}
	if err := db.c.Get(ctx, br); err != nil {
		return nil
	}
	ops, err := db.c.Where(br).Mutate(br, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{p.UUID}})
	if err != nil {
		return fmt.Errorf("delete port %s: %w", name, err)
	}
	return db.transact(ctx, "delete port "+name, ops...)
}

// Ports lists the bridge's ports except the bridge's own, sorted by name.
func (db *DB) Ports(ctx context.Context, bridgeName string) ([]PortInfo, error) {
	br := &bridge{Name: bridgeName}
	if err := db.c.Get(ctx, br); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridgeName, ErrNotFound)
	}
	var out []PortInfo
	for _, uuid := range br.Ports {
		p := &port{UUID: uuid}
		if err := db.c.Get(ctx, p); err != nil || p.Name == bridgeName {
			continue
		}
		info := PortInfo{Name: p.Name, ExternalIDs: maps.Clone(p.ExternalIDs)}
		if len(p.Interfaces) > 0 {
			it := &iface{UUID: p.Interfaces[0]}
			if err := db.c.Get(ctx, it); err == nil {
				info.Type, info.Stats = it.Type, maps.Clone(it.Statistics)
				if it.OFPort != nil {
					info.OFPort = *it.OFPort
				}
				if it.Error != nil {
					info.Error = *it.Error
				}
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Port returns one port by name.
func (db *DB) Port(ctx context.Context, bridgeName, name string) (PortInfo, error) {
	ps, err := db.Ports(ctx, bridgeName)
	if err != nil {
		return PortInfo{}, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
	}
	return PortInfo{}, fmt.Errorf("port %s: %w", name, ErrNotFound)
}
