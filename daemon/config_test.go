package daemon

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/cane-cni/cane/api"
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

func TestParseNetConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code uint
	}{
		{"good", `{"cniVersion":"1.1.0","name":"cane","type":"cane","pool":"prod"}`, 0},
		{"old version", `{"cniVersion":"0.4.0","name":"cane","type":"cane"}`, 0},
		{"no version", `{"name":"cane","type":"cane"}`, 7},
		{"no name", `{"cniVersion":"1.1.0","type":"cane"}`, 7},
		{"not json", `{"cniVersion":`, 6},
		{"wrong types", `{"cniVersion":1,"name":"cane"}`, 6},
		{"huge", `{"cniVersion":"1.1.0","name":"cane","x":"` + strings.Repeat("a", api.MaxNetConf) + `"}`, 7},
	}
	for _, tc := range tests {
		_, err := ParseNetConf([]byte(tc.in))
		var code uint
		if err != nil {
			code = err.Code
		}
		if code != tc.code {
			t.Errorf("%s: code %d (%v), want %d", tc.name, code, err, tc.code)
		}
	}
}

func TestParseArgsAndPool(t *testing.T) {
	a, err := ParseArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;CANE_POOL=test")
	if err != nil || a.PodNamespace != "shop" || a.PodName != "web-0" || a.Pool != "test" {
		t.Fatalf("ParseArgs = %+v, %v", a, err)
	}
	if _, err := ParseArgs("garbage"); err == nil {
		t.Fatal("ParseArgs accepted a value without '='")
	}
	nc := &NetConf{Pool: "prod"}
	d := &poolChooser{}
	if p, _ := d.choose(context.Background(), nc, Args{}); p != "prod" {
		t.Errorf("netconf default pool: %q", p)
	}
	nc.RuntimeConfig.Pool = "rc"
	if p, _ := d.choose(context.Background(), nc, Args{}); p != "rc" {
		t.Errorf("runtimeConfig pool: %q", p)
	}
	if p, _ := d.choose(context.Background(), nc, Args{Pool: "arg"}); p != "arg" {
		t.Errorf("CNI_ARGS pool: %q", p)
	}
}

func TestValidIfName(t *testing.T) {
	for _, ok := range []string{"eth0", "net1", "a", "abcdefghijklmno"} {
		if err := validIfName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "abcdefghijklmnop", "a/b", ".", "..", "a b", "a:b"} {
		if validIfName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
