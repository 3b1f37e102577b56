package flows

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads a flow in the form String writes (and ovs-ofctl dump-flows
// prints with --no-stats): "table=T,priority=P,cookie=C[,match] actions=A".
// Fields OVS adds to dumps (duration, n_packets, ...) are accepted and ignored.
func Parse(s string) (Flow, error) {
	head, actions, ok := strings.Cut(strings.TrimSpace(s), " actions=")
	if !ok {
		return Flow{}, fmt.Errorf("parse flow %q: no actions", s)
	}
	f := Flow{Actions: actions, Priority: 32768} // OVS prints no priority when it is the default
	var match []string
	for _, field := range strings.Split(strings.ReplaceAll(head, ", ", ","), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch k {
		case "":
		case "table":
			n, err := strconv.ParseUint(v, 10, 8)
			if err != nil {
				return Flow{}, fmt.Errorf("parse flow %q: table: %w", s, err)
			}
			f.Table = Table(n)
		case "priority":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return Flow{}, fmt.Errorf("parse flow %q: priority: %w", s, err)
			}
			f.Priority = uint16(n)
		case "cookie":
			n, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				return Flow{}, fmt.Errorf("parse flow %q: cookie: %w", s, err)
			}
			f.Cookie = Cookie(n)
		case "duration", "n_packets", "n_bytes", "idle_age", "hard_age", "reset_counts":
		default:
			match = append(match, field)
		}
	}
	f.Match = strings.Join(match, ",")
	return f, nil
}
