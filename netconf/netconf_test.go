package netconf

import (
	"strings"
	"testing"

	"github.com/cane-cni/cane/api"
)

func TestParse(t *testing.T) {
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
		nc, err := Parse([]byte(tc.in))
		var code uint
		if err != nil {
			code = err.Code
		}
		if code != tc.code {
			t.Errorf("%s: code %d (%v), want %d", tc.name, code, err, tc.code)
		}
		if (nc == nil) == (err == nil) {
			t.Errorf("%s: config %v and error %v: want exactly one", tc.name, nc, err)
		}
	}
}

func TestParseRuntimeConfig(t *testing.T) {
	nc, err := Parse([]byte(`{"cniVersion":"1.1.0","name":"cane","socket":"/s.sock","runtimeConfig":{"pool":"rc","bandwidth":{"egressRate":1000,"egressBurst":64}}}`))
	if err != nil {
		t.Fatal(err)
	}
	bw := nc.RuntimeConfig.Bandwidth
	if nc.Socket != "/s.sock" || nc.RuntimeConfig.Pool != "rc" || bw == nil || bw.EgressRate != 1000 || bw.EgressBurst != 64 {
		t.Fatalf("parsed %+v (bandwidth %+v)", nc, bw)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		in   string
		want Args
		ok   bool
	}{
		{"", Args{}, true},
		{"IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;CANE_POOL=test", Args{"shop", "web-0", "test"}, true},
		{"CANE_POOL=a=b", Args{Pool: "a=b"}, true},
		{"CANE_POOL=a;CANE_POOL=b", Args{Pool: "b"}, true},
		{"garbage", Args{}, false},
		{"K8S_POD_NAME=x;", Args{}, false},
	}
	for _, tc := range tests {
		a, err := ParseArgs(tc.in)
		if (err == nil) != tc.ok || (tc.ok && a != tc.want) {
			t.Errorf("ParseArgs(%q) = %+v, %v; want %+v, ok %v", tc.in, a, err, tc.want, tc.ok)
		}
	}
}

func TestExplicitPool(t *testing.T) {
	nc := &NetConf{Pool: "prod"}
	if p := nc.ExplicitPool(Args{}); p != "" {
		t.Errorf("the netconf's default pool is not explicit: %q", p)
	}
	nc.RuntimeConfig.Pool = "rc"
	if p := nc.ExplicitPool(Args{}); p != "rc" {
		t.Errorf("runtimeConfig pool: %q", p)
	}
	if p := nc.ExplicitPool(Args{Pool: "arg"}); p != "arg" {
		t.Errorf("CNI_ARGS pool over runtimeConfig: %q", p)
	}
}
