package daemon

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/cane-cni/cane/netconf"
)

const goodConfig = `{
  "node": "n1",
  "domains": [{"name": "production", "vni": 100}, {"name": "test", "vni": 200}],
  "pools": [
    {"name": "prod", "domain": "production", "cidr": "198.19.0.0/24", "gateway": "198.19.0.1"},
    {"name": "test", "domain": "test", "cidr": "198.19.1.0/24", "gateway": "198.19.1.1", "blockSize": 28}
  ]
}`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Bridge != "br-int" || c.MTU != 0 || c.Pools[0].BlockSize != 26 || c.Pools[1].BlockSize != 28 || c.Socket != "/run/cane/caned.sock" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	tests := []struct {
		name, from, to, err string
	}{
		{"unknown field", `"node": "n1"`, `"node": "n1", "nodes": 1`, "unknown field"},
		{"duplicate domain", `"name": "test", "vni": 200`, `"name": "production", "vni": 200`, "defined twice"},
		{"duplicate vni", `"vni": 200`, `"vni": 100`, "share vni"},
		{"vni too large", `"vni": 200`, `"vni": 16777216`, "out of range"},
		{"vni zero", `"vni": 200`, `"vni": 0`, "out of range"},
		{"unknown domain of pool", `"domain": "test"`, `"domain": "staging"`, "unknown domain"},
		{"unknown peer", `"vni": 200}`, `"vni": 200, "peers": ["nope"]}`, "unknown domain"},
		{"overlapping pools", `198.19.1.0/24", "gateway": "198.19.1.1"`, `198.19.0.0/25", "gateway": "198.19.0.2"`, "overlap"},
		{"host bits in CIDR", `198.19.1.0/24`, `198.19.1.7/24`, "host bits"},
		{"bad CIDR", `198.19.1.0/24`, `198.19.1.0/33`, "parse config"},
		{"gateway outside", `"gateway": "198.19.1.1"`, `"gateway": "198.19.9.1"`, "gateway"},
		{"bad mtu", `"node": "n1"`, `"node": "n1", "mtu": 100000`, "mtu"},
		{"vlan out of range", `"vni": 200}`, `"vni": 200, "vlan": 4095}`, "vlan"},
		{"kubeconfig and pools", `"node": "n1"`, `"node": "n1", "kubeconfig": "/k"`, "come from the cluster"},
		{"bad datapath", `"node": "n1"`, `"node": "n1", "datapath": "kernel"`, "datapath"},
		{"not json", goodConfig, `{"node": `, "parse config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(goodConfig, tc.from, tc.to, 1)
			if in == goodConfig && tc.from != goodConfig {
				t.Fatalf("test edit %q did not apply", tc.from)
			}
			_, err := ParseConfig([]byte(in))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("ParseConfig = %v, want error containing %q", err, tc.err)
			}
		})
	}
}

func TestChoosePool(t *testing.T) {
	nc := &netconf.NetConf{Pool: "prod"}
	d := &poolChooser{}
	if p, _ := d.choose(context.Background(), nc, netconf.Args{}); p != "prod" {
		t.Errorf("netconf default pool: %q", p)
	}
	nc.RuntimeConfig.Pool = "rc"
	if p, _ := d.choose(context.Background(), nc, netconf.Args{}); p != "rc" {
		t.Errorf("runtimeConfig pool: %q", p)
	}
	if p, _ := d.choose(context.Background(), nc, netconf.Args{Pool: "arg"}); p != "arg" {
		t.Errorf("CNI_ARGS pool: %q", p)
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
