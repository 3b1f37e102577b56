package monitor

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cane-cni/cane/api"
)

// MACTable is a learning bridge's MAC table, from fdb/stats-show.
type MACTable struct {
	Bridge  string
	Current int
	Max     int
	Learned uint64
	Evicted uint64
}

// Percent is how full the table is (api.MACTable.Percent).
func (m MACTable) Percent() float64 { return api.MACTable(m).Percent() }

// ParseFDBStats reads `ovs-appctl fdb/stats-show BRIDGE`.
func ParseFDBStats(bridge, out string) (MACTable, error) {
	m := MACTable{Bridge: bridge}
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "Current/maximum MAC entries in the table":
			cur, max, _ := strings.Cut(value, "/")
			var err1, err2 error
			m.Current, err1 = strconv.Atoi(cur)
			m.Max, err2 = strconv.Atoi(max)
			if err1 != nil || err2 != nil {
				return m, fmt.Errorf("fdb stats of %s: %q", bridge, line)
			}
			seen++
		case "Total number of learned MAC entries":
			m.Learned, _ = strconv.ParseUint(value, 10, 64)
		case "Total number of evicted MAC entries":
			m.Evicted, _ = strconv.ParseUint(value, 10, 64)
			seen++
		}
	}
	if seen != 2 {
		return m, fmt.Errorf("fdb stats of %s: unexpected output %.200q", bridge, out)
	}
	return m, nil
}
