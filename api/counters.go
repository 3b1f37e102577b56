package api

import "time"

// GET /v1/counters -> Counters. monitor/ reads and judges the counters;
// these are their wire form, so that a client (canectl) needs only api.

// Counters is what `canectl counters` shows: a fresh look at every
// monitored counter of the node, and the alerts against the monitor's
// last look.
type Counters struct {
	Time      time.Time         `json:"time"`
	MACTables []MACTable        `json:"macTables"`
	Node      SNMP              `json:"node"`
	Pods      []PodCounters     `json:"pods"`
	Drops     map[string]uint64 `json:"pipelineDrops"` // by reason, from the drop flows' counters
	Alerts    []Alert           `json:"alerts"`
}

// MACTable is a learning bridge's MAC table, from fdb/stats-show.
type MACTable struct {
	Bridge  string `json:"bridge"`
	Current int    `json:"current"`
	Max     int    `json:"max"`
	Learned uint64 `json:"learned"`
	Evicted uint64 `json:"evicted"`
}

// Percent is how full the table is.
func (m MACTable) Percent() float64 {
	if m.Max == 0 {
		return 0
	}
	return 100 * float64(m.Current) / float64(m.Max)
}

// SNMP holds the /proc/net/snmp counters Cane watches, of one netns.
type SNMP struct {
	UDPInErrors     uint64 `json:"udpInErrors"`
	UDPRcvbufErrors uint64 `json:"udpRcvbufErrors"`
	UDPSndbufErrors uint64 `json:"udpSndbufErrors"`
	UDPNoPorts      uint64 `json:"udpNoPorts"`
	UDPInCsumErrors uint64 `json:"udpInCsumErrors"`
	IPReasmFails    uint64 `json:"ipReasmFails"`
	IPReasmTimeout  uint64 `json:"ipReasmTimeout"`
	IPInDiscards    uint64 `json:"ipInDiscards"`
	IPFragFails     uint64 `json:"ipFragFails"`
	UDPInDatagrams  uint64 `json:"udpInDatagrams"`
	UDPOutDatagrams uint64 `json:"udpOutDatagrams"`
}

// Drops is every UDP datagram lost to an error: InErrors (which already
// counts receive-buffer and checksum errors) and send-buffer errors. Not
// NoPorts: a closed port is an answer, not a loss.
func (s SNMP) Drops() uint64 { return s.UDPInErrors + s.UDPSndbufErrors }

// PodCounters are one pod's counters.
type PodCounters struct {
	Name      string `json:"name"` // namespace/name, or the container ID
	Domain    string `json:"domain"`
	Port      string `json:"port"`
	SNMP      SNMP   `json:"snmp"`
	RxDropped uint64 `json:"rxDropped"` // OVS interface counters of its port
	TxDropped uint64 `json:"txDropped"`
	Err       string `json:"error,omitempty"` // its netns could not be read
}

// Alert is one condition that needs a person.
type Alert struct {
	Kind    string `json:"kind"`    // mac-table-full, mac-table-evictions, udp-drops, reassembly-failures
	Subject string `json:"subject"` // the bridge, "node", or the pod
	Message string `json:"message"`
}
