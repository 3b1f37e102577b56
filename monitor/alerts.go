package monitor

import (
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/cane-cni/cane/api"
)

// Pod is one pod's counters.
type Pod struct {
	Name      string // namespace/name, or the container ID
	Domain    string
	Port      string
	SNMP      SNMP
	RxDropped uint64 // OVS interface counters of its port
	TxDropped uint64
	Err       string // its netns could not be read
}

// Snapshot is everything monitored on a node at one moment.
type Snapshot struct {
	Time      time.Time
	MACTables []MACTable
	Node      SNMP
	Pods      []Pod
	Drops     map[string]uint64 // by reason, from the drop flows' counters
}

// Counters is the snapshot with its alerts in the API's wire form (GET
// /v1/counters). The copy shares nothing with s.
func (s Snapshot) Counters(alerts []Alert) api.Counters {
	c := api.Counters{Time: s.Time, Node: api.SNMP(s.Node), Drops: maps.Clone(s.Drops)}
	for _, m := range s.MACTables {
		c.MACTables = append(c.MACTables, api.MACTable(m))
	}
	for _, p := range s.Pods {
		c.Pods = append(c.Pods, api.PodCounters{Name: p.Name, Domain: p.Domain, Port: p.Port, SNMP: api.SNMP(p.SNMP),
			RxDropped: p.RxDropped, TxDropped: p.TxDropped, Err: p.Err})
	}
	for _, a := range alerts {
		c.Alerts = append(c.Alerts, api.Alert(a))
	}
	return c
}

// Thresholds say when a counter is an alert.
type Thresholds struct {
	MACTablePercent float64 // a MAC table this full alerts (default 80)
}

// Alert is one condition that needs a person.
type Alert struct {
	Kind    string // mac-table-full, mac-table-evictions, udp-drops, reassembly-failures
	Subject string // the bridge, "node", or the pod
	Message string
}

// Alerts judges cur against th and against prev, the snapshot before it
// (nil for none: then only levels, not rises, can alert).
func Alerts(prev, cur *Snapshot, th Thresholds) []Alert {
	if th.MACTablePercent == 0 {
		th.MACTablePercent = 80
	}
	var out []Alert
	prevMAC := map[string]MACTable{}
	prevPod := map[string]Pod{}
	if prev != nil {
		for _, m := range prev.MACTables {
			prevMAC[m.Bridge] = m
		}
		for _, p := range prev.Pods {
			prevPod[p.Name] = p
		}
	}
	for _, m := range cur.MACTables {
		if m.Percent() >= th.MACTablePercent {
			out = append(out, Alert{"mac-table-full", m.Bridge, fmt.Sprintf("MAC table of %s at %.0f%% (%d of %d entries)", m.Bridge, m.Percent(), m.Current, m.Max)})
		}
		// A bridge new since the last look is compared with nothing
		// evicted: evictions before the first look count too.
		if p := prevMAC[m.Bridge]; prev != nil && m.Evicted > p.Evicted {
			out = append(out, Alert{"mac-table-evictions", m.Bridge, fmt.Sprintf("%s evicted %d MAC entries since the last look: hosts are being forgotten", m.Bridge, m.Evicted-p.Evicted)})
		}
	}
	if prev != nil {
		out = append(out, rises("node", prev.Node, cur.Node)...)
		for _, p := range cur.Pods {
			if before, ok := prevPod[p.Name]; ok {
				out = append(out, rises(p.Name, before.SNMP, p.SNMP)...)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+out[i].Subject < out[j].Kind+out[j].Subject })
	return out
}

// rises are the UDP and reassembly alerts of one netns.
func rises(subject string, prev, cur SNMP) []Alert {
	var out []Alert
	if d := cur.Drops() - prev.Drops(); cur.Drops() > prev.Drops() {
		out = append(out, Alert{"udp-drops", subject, fmt.Sprintf("%s dropped %d UDP datagrams since the last look (receive buffer full %d, send buffer full %d, bad checksum %d)",
			subject, d, cur.UDPRcvbufErrors-prev.UDPRcvbufErrors, cur.UDPSndbufErrors-prev.UDPSndbufErrors, cur.UDPInCsumErrors-prev.UDPInCsumErrors)})
	}
	if cur.IPReasmFails > prev.IPReasmFails {
		out = append(out, Alert{"reassembly-failures", subject, fmt.Sprintf("%s failed to reassemble %d IP packets since the last look (large UDP across a smaller MTU?)", subject, cur.IPReasmFails-prev.IPReasmFails)})
	}
	return out
}
