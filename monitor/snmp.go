// Package monitor reads the counters that go quiet before a node fails —
// MAC-table occupancy, UDP and reassembly drops, port and pipeline drops —
// judges them against thresholds, and exposes them to Prometheus.
package monitor

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cane-cni/cane/api"
)

// SNMP holds the /proc/net/snmp counters Cane watches, of one netns. Its
// fields are api.SNMP's, so one converts to the other.
type SNMP struct {
	UDPInErrors     uint64
	UDPRcvbufErrors uint64
	UDPSndbufErrors uint64
	UDPNoPorts      uint64
	UDPInCsumErrors uint64
	IPReasmFails    uint64
	IPReasmTimeout  uint64
	IPInDiscards    uint64
	IPFragFails     uint64
	UDPInDatagrams  uint64
	UDPOutDatagrams uint64
}

// Drops is every UDP datagram lost to an error (api.SNMP.Drops).
func (s SNMP) Drops() uint64 { return api.SNMP(s).Drops() }

// ParseSNMP reads /proc/net/snmp: pairs of lines, names then values, per
// protocol.
func ParseSNMP(data string) (SNMP, error) {
	fields := map[string]uint64{}
	lines := strings.Split(strings.TrimSpace(data), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) != len(values) || len(names) == 0 || names[0] != values[0] {
			return SNMP{}, fmt.Errorf("snmp: lines %d-%d do not pair up", i+1, i+2)
		}
		proto := strings.TrimSuffix(names[0], ":")
		for j := 1; j < len(names); j++ {
			v, err := strconv.ParseInt(values[j], 10, 64) // Ip Forwarding etc. may be signed
			if err != nil {
				return SNMP{}, fmt.Errorf("snmp: %s %s: %w", proto, names[j], err)
			}
			if v >= 0 {
				fields[proto+"."+names[j]] = uint64(v)
			}
		}
	}
	if _, ok := fields["Udp.InDatagrams"]; !ok {
		return SNMP{}, fmt.Errorf("snmp: no Udp counters")
	}
	return SNMP{
		UDPInErrors: fields["Udp.InErrors"], UDPRcvbufErrors: fields["Udp.RcvbufErrors"], UDPSndbufErrors: fields["Udp.SndbufErrors"],
		UDPNoPorts: fields["Udp.NoPorts"], UDPInCsumErrors: fields["Udp.InCsumErrors"],
		UDPInDatagrams: fields["Udp.InDatagrams"], UDPOutDatagrams: fields["Udp.OutDatagrams"],
		IPReasmFails: fields["Ip.ReasmFails"], IPReasmTimeout: fields["Ip.ReasmTimeout"], IPInDiscards: fields["Ip.InDiscards"], IPFragFails: fields["Ip.FragFails"],
	}, nil
}

// ReadSNMP reads the counters of the netns at path ("" for the caller's).
// The file is read on a thread inside the netns (/proc/thread-self), so
// the rest of the process stays where it is.
func ReadSNMP(path string) (SNMP, error) {
	var data []byte
	read := func(ns.NetNS) (err error) {
		data, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	}
	var err error
	if path == "" {
		err = read(nil)
	} else {
		err = ns.WithNetNSPath(path, read)
	}
	if err != nil {
		return SNMP{}, err
	}
	return ParseSNMP(string(data))
}
