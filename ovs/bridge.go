package ovs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// Protocols are the OpenFlow versions Cane's bridges speak; bundles need 1.4+.
var Protocols = []string{"OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"}

// BridgeConfig is the desired state of a bridge.
type BridgeConfig struct {
	Name         string
	DatapathType string            // "system" or "netdev"
	OtherConfig  map[string]string // e.g. mac-table-size
	ExternalIDs  map[string]string
	// Standalone makes a plain learning switch (fail_mode=standalone) for
	// an underlay bridge that is not Cane's: it forwards with no flows,
	// also right after ovs-vswitchd restarts. Cane's own bridge is secure.
	Standalone bool
}

// EnsureBridge creates the bridge or brings an existing one to cfg:
// fail_mode=secure (nothing flows without a flow, no NORMAL flooding)
// unless cfg.Standalone, Cane's protocols and datapath type. Existing other_config and external_ids
// keys not in cfg are kept. Idempotent.
func (db *DB) EnsureBridge(ctx context.Context, cfg BridgeConfig) error {
	secure := "secure"
	if cfg.Standalone {
		secure = "standalone"
	}
	// Like ovs-vsctl add-br: the bridge with its own internal port (LOCAL).
	localIf := &iface{UUID: "newlocaliface", Name: cfg.Name, Type: "internal"}
	localPort := &port{UUID: "newlocalport", Name: cfg.Name, Interfaces: []string{localIf.UUID}}
	want := bridge{
		UUID: "newbridge", Name: cfg.Name, DatapathType: cfg.DatapathType, FailMode: &secure,
		Protocols: Protocols, OtherConfig: cfg.OtherConfig, ExternalIDs: cfg.ExternalIDs,
		Ports: []string{localPort.UUID},
	}
	cur := &bridge{Name: cfg.Name}
	if err := db.c.Get(ctx, cur); err == nil {
		merged := *cur
		merged.DatapathType, merged.FailMode, merged.Protocols = want.DatapathType, want.FailMode, want.Protocols
		merged.OtherConfig = mergeMap(cur.OtherConfig, cfg.OtherConfig)
		merged.ExternalIDs = mergeMap(cur.ExternalIDs, cfg.ExternalIDs)
		ops, err := db.c.Where(cur).Update(&merged, &merged.DatapathType, &merged.FailMode, &merged.Protocols, &merged.OtherConfig, &merged.ExternalIDs)
		if err != nil {
			return fmt.Errorf("update bridge %s: %w", cfg.Name, err)
		}
		return db.transact(ctx, "update bridge "+cfg.Name, ops...)
	}
	root, err := db.root()
	if err != nil {
		return err
	}
	ops, err := db.create(localIf, localPort, &want)
	if err != nil {
		return fmt.Errorf("create bridge %s: %w", cfg.Name, err)
	}
	mut, err := db.c.Where(root).Mutate(root, model.Mutation{Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{want.UUID}})
	if err != nil {
		return fmt.Errorf("create bridge %s: %w", cfg.Name, err)
	}
	if err := db.transact(ctx, "create bridge "+cfg.Name, append(ops, mut...)...); err != nil {
		return err
	}
	// vswitchd creates the datapath bridge and its mgmt socket after the
	// commit; wait until it reports the bridge's own port live.
	return db.waitFor(ctx, func() (bool, error) {
		it := &iface{Name: cfg.Name}
		if err := db.c.Get(ctx, it); err != nil {
			return false, nil
		}
		if it.Error != nil && *it.Error != "" {
			return false, fmt.Errorf("bridge %s: %s", cfg.Name, *it.Error)
		}
		return it.OFPort != nil && *it.OFPort != 0, nil
	})
}

// BridgeExternalIDs returns the bridge's external_ids.
func (db *DB) BridgeExternalIDs(ctx context.Context, name string) (map[string]string, error) {
	b := &bridge{Name: name}
	if err := db.c.Get(ctx, b); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", name, ErrNotFound)
	}
	return maps.Clone(b.ExternalIDs), nil
}

// SetBridgeExternalID sets one external_ids key of the bridge.
func (db *DB) SetBridgeExternalID(ctx context.Context, name, key, value string) error {
	return db.setBridgeKey(ctx, name, "external_ids", func(b *bridge) *map[string]string { return &b.ExternalIDs }, key, value)
}

// SetBridgeOtherConfig sets one other_config key of the bridge (e.g.
// mac-table-size on a learning bridge).
func (db *DB) SetBridgeOtherConfig(ctx context.Context, name, key, value string) error {
	return db.setBridgeKey(ctx, name, "other_config", func(b *bridge) *map[string]string { return &b.OtherConfig }, key, value)
}

func (db *DB) setBridgeKey(ctx context.Context, name, column string, field func(*bridge) *map[string]string, key, value string) error {
	b := &bridge{Name: name}
	if err := db.c.Get(ctx, b); err != nil {
		return fmt.Errorf("bridge %s: %w", name, ErrNotFound)
	}
	ops, err := db.c.Where(b).Mutate(b,
		model.Mutation{Field: field(b), Mutator: ovsdb.MutateOperationDelete, Value: []string{key}},
		model.Mutation{Field: field(b), Mutator: ovsdb.MutateOperationInsert, Value: map[string]string{key: value}})
	if err != nil {
		return err
	}
	return db.transact(ctx, "set "+column+":"+key+" on "+name, ops...)
}

// BridgeInfo is what the cache knows of a bridge.
type BridgeInfo struct {
	Name         string
	DatapathType string
	FailMode     string
	Protocols    []string
	OtherConfig  map[string]string
}

// Bridge returns the bridge's settings.
func (db *DB) Bridge(ctx context.Context, name string) (BridgeInfo, error) {
	b := &bridge{Name: name}
	if err := db.c.Get(ctx, b); err != nil {
		return BridgeInfo{}, fmt.Errorf("bridge %s: %w", name, ErrNotFound)
	}
	return infoOf(b), nil
}

func infoOf(b *bridge) BridgeInfo {
	info := BridgeInfo{Name: b.Name, DatapathType: b.DatapathType, Protocols: slices.Clone(b.Protocols), OtherConfig: maps.Clone(b.OtherConfig)}
	if b.FailMode != nil {
		info.FailMode = *b.FailMode
	}
	return info
}

// Bridges lists every bridge of the switch.
func (db *DB) Bridges(ctx context.Context) ([]BridgeInfo, error) {
	var bs []bridge
	if err := db.c.List(ctx, &bs); err != nil {
		return nil, err
	}
	out := make([]BridgeInfo, 0, len(bs))
	for _, b := range bs {
		out = append(out, infoOf(&b))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (db *DB) root() (*ovsRoot, error) {
	var roots []ovsRoot
	if err := db.c.List(context.Background(), &roots); err != nil || len(roots) != 1 {
		return nil, fmt.Errorf("read Open_vSwitch table: %d rows, %v (was ovs-vsctl init run?)", len(roots), err)
	}
	return &roots[0], nil
}

func mergeMap(cur, add map[string]string) map[string]string {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, add)
	return out
}
