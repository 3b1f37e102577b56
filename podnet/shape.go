package podnet

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// Egress is a limit on what a pod sends: rate in bits/s, burst in bits
// (the CNI bandwidth capability's units).
type Egress struct {
	Rate  uint64
	Burst uint64
}

// Latency is how long a packet may wait in the shaper before it is dropped.
const shapeLatencyUsec = 25_000

// minBurstBytes lets one full-size segment (64 KiB with offloads) through.
const minBurstBytes = 64<<10 + 1500

// shapeEgress puts a token-bucket shaper on the pod's interface, inside
// its netns. On OVS's userspace datapath this is the only place a pod's
// egress can be shaped: vswitchd takes the pod's frames from the host end
// with a packet socket, which sees them before any tc ingress filter on
// it (so the reference bandwidth plugin's host-side shaper never acts).
// A shaper, not a policer: TCP slows down instead of losing packets.
// The burst is capped at 100 ms of the rate (runtimes pass huge ones).
func shapeEgress(pod *netlink.Handle, link netlink.Link, e Egress) error {
	rate := e.Rate / 8
	if rate == 0 {
		return fmt.Errorf("egress rate %d bit/s is below 8", e.Rate)
	}
	burst := e.Burst / 8
	if limit := rate / 10; burst == 0 || burst > limit {
		burst = limit
	}
	burst = max(burst, minBurstBytes)
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		Rate:       rate,
		// Buffer is the bucket size as the time it takes to fill, in ticks.
		Buffer: uint32(float64(burst) * float64(netlink.TIME_UNITS_PER_SEC) / float64(rate) * netlink.TickInUsec()),
		Limit:  uint32(rate*shapeLatencyUsec/netlink.TIME_UNITS_PER_SEC) + uint32(burst),
	}
	if err := pod.QdiscReplace(q); err != nil {
		return fmt.Errorf("shape egress of %s to %d bit/s: %w", link.Attrs().Name, e.Rate, err)
	}
	return nil
}
