package netconf

import (
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// The fuzz targets run their seeds in every `go test`; `make fuzz` runs
// each with the fuzzer for FUZZTIME.

// FuzzParse: a netconf is accepted with a version and a name, or refused
// with code 6 or 7, never both. (No round trip: a NetConf does not encode
// back, see NetConf.)
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"cniVersion":"1.1.0","name":"cane","type":"cane","pool":"prod"}`,
		`{"cniVersion":"0.4.0","name":"cane","type":"cane","runtimeConfig":{"pool":"test","bandwidth":{"egressRate":1000}},"dns":{"nameservers":["198.18.0.53"]}}`,
		`{"cniVersion":"1.1.0","name":"cane","prevResult":{"ips":[{"address":"198.19.0.5/24"}]}}`,
		`{"cniVersion":"1.1.0","name":"cane","cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}`,
		`{"cniVersion":1}`, `[]`, `null`, `{"name":"` + strings.Repeat(`\u0000`, 8) + `"}`, strings.Repeat(`[`, 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, e := Parse(data)
		switch {
		case (nc == nil) == (e == nil):
			t.Fatalf("config %+v and error %v: want exactly one", nc, e)
		case e != nil && e.Code != types.ErrDecodingFailure && e.Code != types.ErrInvalidNetworkConfig:
			t.Fatalf("error code %d: %v", e.Code, e)
		case e != nil:
			return
		case nc.CNIVersion == "" || nc.Name == "":
			t.Fatalf("accepted a config without version or name: %+v", nc)
		}
	})
}

// FuzzParseArgs: CNI_ARGS are accepted only as KEY=VALUE pairs, and every
// value Cane takes is one the string gave that key.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"", "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;CANE_POOL=prod",
		"K8S_POD_NAME", ";;", "=;=", "CANE_POOL=a=b", "CANE_POOL=a;CANE_POOL=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseArgs(s)
		if err != nil {
			return
		}
		for _, kv := range strings.Split(s, ";") {
			if s != "" && !strings.Contains(kv, "=") {
				t.Fatalf("accepted %q", s)
			}
		}
		for key, v := range map[string]string{"CANE_POOL": a.Pool, "K8S_POD_NAME": a.PodName, "K8S_POD_NAMESPACE": a.PodNamespace} {
			if v != "" && !strings.Contains(";"+s+";", ";"+key+"="+v+";") {
				t.Fatalf("%s %q is not in %q", key, v, s)
			}
		}
	})
}
