package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/cane-cni/cane/ipam"
)

// Config is caned's configuration: where things are, and (until the
// Kubernetes store arrives) the domains, pools and reservations.
type Config struct {
	Node         string `json:"node"`
	Bridge       string `json:"bridge"`       // default br-int
	Datapath     string `json:"datapath"`     // "system", "netdev", or "" to detect
	OVSDB        string `json:"ovsdb"`        // default unix:/var/run/openvswitch/db.sock
	OVSRunDir    string `json:"ovsRunDir"`    // where BRIDGE.mgmt is; default /var/run/openvswitch
	Socket       string `json:"socket"`       // default api.DefaultSocket
	State        string `json:"state"`        // bbolt file; default /var/lib/cane/state.db
	MTU          int    `json:"mtu"`          // pod MTU; 0: the underlay's MTU less VXLAN's 50 bytes
	Kubeconfig   string `json:"kubeconfig"`   // multi-node: domains, pools, blocks and nodes from this cluster ("in-cluster": the pod's service account)
	UplinkBridge string `json:"uplinkBridge"` // underlay bridge for VLAN domains (patched to the bridge)
	MACTableSize int    `json:"macTableSize"` // set on Cane's bridge and, if unset there, on the uplink bridge
	// Monitoring: the interval of the monitor's look (seconds, default 10),
	// the MAC-table alert level (percent, default 80) and where Prometheus
	// scrapes /metrics ("" for nowhere; e.g. ":9410"). Pods cannot
	// reach it (the node drops what a host port brings to it), but those
	// of MetricsDomains (say, a monitoring domain's Prometheus).
	MonitorSeconds float64       `json:"monitorSeconds"`
	MACTableAlert  float64       `json:"macTableAlertPercent"`
	MetricsAddress string        `json:"metricsAddress"`
	MetricsDomains []string      `json:"metricsDomains"`
	GatewayMAC     string        `json:"gatewayMAC"` // default 0a:58:00:00:00:01
	Domains        []DomainConf  `json:"domains"`
	Pools          []PoolConf    `json:"pools"`
	Reservations   []ReserveConf `json:"reservations"`
}

// DomainConf is an isolation domain.
type DomainConf struct {
	Name  string   `json:"name"`
	VNI   uint32   `json:"vni"`
	VLAN  uint16   `json:"vlan,omitempty"`
	Peers []string `json:"peers,omitempty"`
	// Egress says whether the domain's traffic outside every pool and
	// node leaves as the node's address: EgressSNAT, EgressNone, or ""
	// for the default (SNAT for an overlay domain, none for a VLAN one,
	// which is routed natively).
	Egress string `json:"egress,omitempty"`
	// Namespaces may choose the domain's pools by the cane.io/pool pod
	// annotation, besides those labelled cane.io/domain=<name> (cluster
	// mode: from the Domain object, which only admins write).
	Namespaces []string `json:"namespaces,omitempty"`
}

// Egress settings of a domain.
const (
	EgressSNAT = "SNAT"
	EgressNone = "None"
)

// snat reports whether the domain's egress is masqueraded.
func (d DomainConf) snat() bool {
	if d.Egress == "" {
		return d.VLAN == 0
	}
	return d.Egress == EgressSNAT
}

// validEgress checks a domain's egress setting.
func validEgress(e string) error {
	if e != "" && e != EgressSNAT && e != EgressNone {
		return fmt.Errorf("egress %q: want %s, %s or empty (the default)", e, EgressSNAT, EgressNone)
	}
	return nil
}

// PoolConf is an address pool of a domain.
type PoolConf struct {
	Name      string       `json:"name"`
	Domain    string       `json:"domain"`
	CIDR      netip.Prefix `json:"cidr"`
	Gateway   netip.Addr   `json:"gateway"`
	BlockSize int          `json:"blockSize"` // prefix length of node blocks; default 26
}

// ReserveConf pins an address to a workload ("namespace/name").
type ReserveConf struct {
	Workload string     `json:"workload"`
	Pool     string     `json:"pool"`
	IP       netip.Addr `json:"ip"`
}

// LoadConfig reads a JSON config file, fills defaults and validates it.
// Unknown fields are errors, so a typo does not silently do nothing.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(data)
}

// ParseConfig is LoadConfig on bytes.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	c.defaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) defaults() {
	if c.Node == "" {
		c.Node = os.Getenv("NODE_NAME") // the DaemonSet's downward API
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Bridge, "br-int")
	def(&c.OVSDB, "unix:/var/run/openvswitch/db.sock")
	def(&c.OVSRunDir, "/var/run/openvswitch")
	def(&c.Socket, "/run/cane/caned.sock")
	def(&c.State, "/var/lib/cane/state.db")
	def(&c.GatewayMAC, "0a:58:00:00:00:01")
	if c.MACTableSize == 0 {
		c.MACTableSize = 65536
	}
	if c.MonitorSeconds == 0 {
		c.MonitorSeconds = 10
	}
	if c.MACTableAlert == 0 {
		c.MACTableAlert = 80
	}
	for i := range c.Pools {
		if c.Pools[i].BlockSize == 0 {
			c.Pools[i].BlockSize = 26
		}
	}
}

// Validate checks the config as a whole: unique domains and VNIs, peers
// and pools that name real domains, pools that are valid and disjoint.
func (c *Config) Validate() error {
	if c.MTU != 0 && (c.MTU < 576 || c.MTU > 9000) {
		return fmt.Errorf("mtu %d: want 576..9000, or 0 to detect", c.MTU)
	}
	if c.Kubeconfig != "" && (len(c.Domains) > 0 || len(c.Pools) > 0 || len(c.Reservations) > 0) {
		return fmt.Errorf("with kubeconfig, domains, pools and reservations come from the cluster (Domain and Pool objects); remove them from the file")
	}
	if c.MonitorSeconds < 0.1 || c.MACTableAlert < 1 || c.MACTableAlert > 100 {
		return fmt.Errorf("monitorSeconds %g (want >= 0.1) or macTableAlertPercent %g (want 1..100) out of range", c.MonitorSeconds, c.MACTableAlert)
	}
	if mac, err := net.ParseMAC(c.GatewayMAC); err != nil {
		return fmt.Errorf("gatewayMAC: %w", err)
	} else if mac[0] == 0x0a && mac[1] == 0x58 && mac[2] == 0xff {
		return fmt.Errorf("gatewayMAC %s is in 0a:58:ff:00:00:00/24, the host ports' MACs; choose another", c.GatewayMAC)
	}
	if _, err := c.metricsPort(); err != nil {
		return err
	}
	if c.Datapath != "" && c.Datapath != "system" && c.Datapath != "netdev" {
		return fmt.Errorf("datapath %q: want system, netdev or empty (detect)", c.Datapath)
	}
	domains, vnis := map[string]bool{}, map[uint32]string{}
	for _, d := range c.Domains {
		if d.Name == "" {
			return fmt.Errorf("domain with empty name")
		}
		if domains[d.Name] {
			return fmt.Errorf("domain %q defined twice", d.Name)
		}
		if d.VNI == 0 || d.VNI > 1<<24-1 {
			return fmt.Errorf("domain %q: vni %d out of range 1..16777215", d.Name, d.VNI)
		}
		if d.VLAN > 4094 {
			return fmt.Errorf("domain %q: vlan %d out of range 1..4094", d.Name, d.VLAN)
		}
		if err := validEgress(d.Egress); err != nil {
			return fmt.Errorf("domain %q: %w", d.Name, err)
		}
		if other, ok := vnis[d.VNI]; ok {
			return fmt.Errorf("domains %q and %q share vni %d", other, d.Name, d.VNI)
		}
		domains[d.Name], vnis[d.VNI] = true, d.Name
	}
	for _, d := range c.Domains {
		for _, p := range d.Peers {
			if !domains[p] {
				return fmt.Errorf("domain %q peers with unknown domain %q", d.Name, p)
			}
		}
	}
	for _, p := range c.Pools {
		if !domains[p.Domain] {
			return fmt.Errorf("pool %q: unknown domain %q", p.Name, p.Domain)
		}
	}
	return ipam.ValidatePools(c.ipamPools())
}

// metricsPort is the TCP port of MetricsAddress (0: none).
func (c *Config) metricsPort() (uint16, error) {
	if c.MetricsAddress == "" {
		return 0, nil
	}
	_, port, err := net.SplitHostPort(c.MetricsAddress)
	if err != nil {
		return 0, fmt.Errorf("metricsAddress %q: %w", c.MetricsAddress, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("metricsAddress %q: want host:port with a port number", c.MetricsAddress)
	}
	return uint16(n), nil
}

func (c *Config) ipamPools() []ipam.Pool {
	var out []ipam.Pool
	for _, p := range c.Pools {
		out = append(out, ipam.Pool{Name: p.Name, Domain: p.Domain, CIDR: p.CIDR, Gateway: p.Gateway, BlockBits: p.BlockSize})
	}
	return out
}

func (c *Config) ipamReservations() []ipam.Reservation {
	var out []ipam.Reservation
	for _, r := range c.Reservations {
		out = append(out, ipam.Reservation{Workload: r.Workload, Pool: r.Pool, IP: r.IP})
	}
	return out
}
