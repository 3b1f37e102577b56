package monitor

import (
	"fmt"
	"strconv"
	"strings"
)

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
