package monitor

import (
	"strings"
	"testing"
)

const snmp = `Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 15965 0 0 0 0 3 15965 16599 0 0 1 10 4 6 0 2 0 16599
Icmp: InMsgs InErrors
Icmp: 2 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 100 7 12 90 10 1 2 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`

func TestParseSNMP(t *testing.T) {
	s, err := ParseSNMP(snmp)
	if err != nil {
		t.Fatal(err)
	}
	want := SNMP{UDPInErrors: 12, UDPRcvbufErrors: 10, UDPSndbufErrors: 1, UDPNoPorts: 7, UDPInCsumErrors: 2, IPReasmFails: 6, IPReasmTimeout: 1,
		IPInDiscards: 3, IPFragFails: 2, UDPInDatagrams: 100, UDPOutDatagrams: 90}
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if s.Drops() != 13 {
		t.Errorf("drops %d, want 13 (InErrors already counts receive-buffer and checksum errors)", s.Drops())
	}
	for name, bad := range map[string]string{
		"empty": "", "unpaired": "Udp: InDatagrams\n", "mismatched": "Udp: InDatagrams NoPorts\nUdp: 1\n",
		"not a number": "Udp: InDatagrams\nUdp: x\n", "no udp": "Ip: Forwarding\nIp: 1\n",
	} {
		if _, err := ParseSNMP(bad); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := ReadSNMP(""); err != nil {
		t.Errorf("this netns: %v", err)
	}
}

const fdb = `Statistics for bridge "br-learn":
  Current/maximum MAC entries in the table: 56/64
  Current static MAC entries in the table : 0
  Total number of learned MAC entries     : 300
  Total number of expired MAC entries     : 0
  Total number of evicted MAC entries     : 236
  Total number of port moved MAC entries  : 0
`

func TestParseFDBStats(t *testing.T) {
	m, err := ParseFDBStats("br-learn", fdb)
	if err != nil {
		t.Fatal(err)
	}
	if m != (MACTable{Bridge: "br-learn", Current: 56, Max: 64, Learned: 300, Evicted: 236}) || m.Percent() != 87.5 {
		t.Fatalf("%+v %.1f%%", m, m.Percent())
	}
	if _, err := ParseFDBStats("x", "ovs-appctl: no such bridge"); err == nil {
		t.Error("garbage parsed")
	}
}

func TestAlerts(t *testing.T) {
	quiet := &Snapshot{MACTables: []MACTable{{Bridge: "br-phy", Current: 10, Max: 100}}, Pods: []Pod{{Name: "shop/web", SNMP: SNMP{UDPInErrors: 5}}}}
	tests := []struct {
		name      string
		prev, cur *Snapshot
		want      []string // kind subject
	}{
		{"quiet", quiet, quiet, nil},
		{"table at 80%", nil, &Snapshot{MACTables: []MACTable{{Bridge: "br-phy", Current: 80, Max: 100}}}, []string{"mac-table-full br-phy"}},
		{"table at 79%", nil, &Snapshot{MACTables: []MACTable{{Bridge: "br-phy", Current: 79, Max: 100}}}, nil},
		{"evictions", quiet, &Snapshot{MACTables: []MACTable{{Bridge: "br-phy", Current: 10, Max: 100, Evicted: 1}}}, []string{"mac-table-evictions br-phy"}},
		{"no earlier look: levels only", nil, &Snapshot{MACTables: []MACTable{{Bridge: "br-phy", Evicted: 9, Max: 100}}, Node: SNMP{UDPInErrors: 9}}, nil},
		{"pod udp drops rising", quiet, &Snapshot{MACTables: quiet.MACTables, Pods: []Pod{{Name: "shop/web", SNMP: SNMP{UDPInErrors: 9, UDPRcvbufErrors: 4}}}}, []string{"udp-drops shop/web"}},
		{"node reassembly", quiet, &Snapshot{MACTables: quiet.MACTables, Pods: quiet.Pods, Node: SNMP{IPReasmFails: 2}}, []string{"reassembly-failures node"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, a := range Alerts(tc.prev, tc.cur, Thresholds{}) {
				got = append(got, a.Kind+" "+a.Subject)
				if a.Message == "" {
					t.Errorf("%+v has no message", a)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("alerts %v, want %v", got, tc.want)
			}
		})
	}
}
