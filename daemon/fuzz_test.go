package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
)

// The fuzz targets run their seeds in every `go test`; `make fuzz` runs
// each with the fuzzer for a short while.

func FuzzParseNetConf(f *testing.F) {
	for _, s := range []string{
		`{"cniVersion":"1.1.0","name":"cane","type":"cane","pool":"prod"}`,
		`{"cniVersion":"0.4.0","name":"cane","type":"cane","runtimeConfig":{"pool":"test"},"dns":{"nameservers":["198.18.0.53"]}}`,
		`{"cniVersion":"1.1.0","name":"cane","prevResult":{"ips":[{"address":"198.19.0.5/24"}]}}`,
		`{"cniVersion":1}`, `[]`, `null`, `{"name":"` + strings.Repeat(`\u0000`, 8) + `"}`, strings.Repeat(`[`, 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, e := ParseNetConf(data)
		switch {
		case e != nil && nc != nil:
			t.Fatalf("both a config and an error %v", e)
		case e != nil && e.Code != types.ErrDecodingFailure && e.Code != types.ErrInvalidNetworkConfig:
			t.Fatalf("error code %d: %v", e.Code, e)
		case e == nil && (nc.CNIVersion == "" || nc.Name == ""):
			t.Fatalf("accepted a config without version or name: %+v", nc)
		}
	})
}

func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"", "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;CANE_POOL=prod",
		"K8S_POD_NAME", ";;", "=;=", "CANE_POOL=a=b",
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
		if a.Pool != "" && !strings.Contains(s, "CANE_POOL="+a.Pool) {
			t.Fatalf("pool %q is not in %q", a.Pool, s)
		}
	})
}

// FuzzAPI throws request bodies at the socket API of a caned whose OVS is
// unreachable: every answer is one well-formed CNI error, and a body that
// is not a request is refused with 400 and code 6.
func FuzzAPI(f *testing.F) {
	cfg, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	cfg.State, cfg.OVSDB = filepath.Join(dir, "s.db"), "unix:"+filepath.Join(dir, "none.sock")
	d, err := New(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	d.sess.setReady() // past the readiness gate: validation, then "OVS unreachable"
	for _, cmd := range []string{"ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", ""} {
		req, _ := json.Marshal(api.CNIRequest{Command: cmd, ContainerID: "c1", Netns: "/proc/self/ns/net", IfName: "eth0", Config: netconf("prod")})
		f.Add(req)
	}
	for _, s := range []string{
		`{"command":"ADD","containerID":"../../x","ifName":"eth0","config":{}}`,
		`{"command":"ADD","containerID":"c","ifName":"` + strings.Repeat("e", 64) + `","netns":"/nonexistent","config":{"cniVersion":"1.1.0","name":"n"}}`,
		`{"command":"ADD"} {"command":"DEL"}`, `{"command":"ADD","surprise":1}`, `{"config":"x"}`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		d.handleCNI(w, httptest.NewRequest(http.MethodPost, "/v1/cni", bytes.NewReader(body)))
		var resp api.CNIResponse
		dec := json.NewDecoder(w.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil {
			t.Fatalf("answer is not a CNIResponse: %v", err)
		}
		if resp.Error == nil || resp.Result != nil {
			t.Fatalf("want exactly one CNI error without OVS, got %+v", resp)
		}
		if resp.Error.Msg == "" {
			t.Fatalf("error without a message: %+v", resp.Error)
		}
		switch resp.Error.Code {
		case types.ErrDecodingFailure, types.ErrInvalidNetworkConfig, types.ErrInvalidEnvironmentVariables,
			types.ErrInvalidNetNS, types.ErrTryAgainLater, api.CodePluginNotAvailable:
		default:
			t.Fatalf("unexpected code %d: %+v", resp.Error.Code, resp.Error)
		}
		if bad := w.Code == http.StatusBadRequest; bad != (resp.Error.Msg == "malformed request") {
			t.Fatalf("HTTP %d for %+v", w.Code, resp.Error)
		}
	})
}
