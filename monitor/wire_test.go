package monitor

import (
	"encoding/json"
	"testing"
	"time"
)

// TestCounters: a snapshot and its alerts reach the wire with every field,
// under the names canectl and scripts read (GET /v1/counters).
func TestCounters(t *testing.T) {
	s := Snapshot{
		Time:      time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		MACTables: []MACTable{{Bridge: "br-phy", Current: 56, Max: 64, Learned: 300, Evicted: 236}},
		Node:      SNMP{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		Pods: []Pod{
			{Name: "shop/web", Domain: "production", Port: "cane0", SNMP: SNMP{UDPInErrors: 12}, RxDropped: 3, TxDropped: 4},
			{Name: "c2", Err: "netns gone"},
		},
		Drops: map[string]uint64{"isolation": 9},
	}
	c := s.Counters([]Alert{{Kind: "mac-table-full", Subject: "br-phy", Message: "full"}})
	s.Drops["isolation"] = 0 // the wire copy is its own
	got, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"time":"2026-11-24T12:00:00Z",` +
		`"macTables":[{"bridge":"br-phy","current":56,"max":64,"learned":300,"evicted":236}],` +
		`"node":{"udpInErrors":1,"udpRcvbufErrors":2,"udpSndbufErrors":3,"udpNoPorts":4,"udpInCsumErrors":5,"ipReasmFails":6,"ipReasmTimeout":7,"ipInDiscards":8,"ipFragFails":9,"udpInDatagrams":10,"udpOutDatagrams":11},` +
		`"pods":[{"name":"shop/web","domain":"production","port":"cane0","snmp":{"udpInErrors":12,"udpRcvbufErrors":0,"udpSndbufErrors":0,"udpNoPorts":0,"udpInCsumErrors":0,"ipReasmFails":0,"ipReasmTimeout":0,"ipInDiscards":0,"ipFragFails":0,"udpInDatagrams":0,"udpOutDatagrams":0},"rxDropped":3,"txDropped":4},` +
		`{"name":"c2","domain":"","port":"","snmp":{"udpInErrors":0,"udpRcvbufErrors":0,"udpSndbufErrors":0,"udpNoPorts":0,"udpInCsumErrors":0,"ipReasmFails":0,"ipReasmTimeout":0,"ipInDiscards":0,"ipFragFails":0,"udpInDatagrams":0,"udpOutDatagrams":0},"rxDropped":0,"txDropped":0,"error":"netns gone"}],` +
		`"pipelineDrops":{"isolation":9},` +
		`"alerts":[{"kind":"mac-table-full","subject":"br-phy","message":"full"}]}`
	if string(got) != want {
		t.Fatalf("wire form\n got %s\nwant %s", got, want)
	}
	if c.MACTables[0].Percent() != s.MACTables[0].Percent() || c.Node.Drops() != s.Node.Drops() {
		t.Fatal("the wire types judge the counters differently")
	}
}
