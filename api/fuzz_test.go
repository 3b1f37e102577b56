package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// The fuzz targets run their seeds in every `go test`; `make fuzz` runs
// each with the fuzzer for FUZZTIME.

// FuzzDecodeCNIRequest throws bodies at what caned does with a POST
// /v1/cni before it needs the kernel: strict decoding, then the checks of
// the attachment's names. A body is a request or error 6, never both; a
// request's encoding is a fixed point (what caned read is what the plugin
// could have sent); the attachment check answers nil or error 4, and
// agrees with the kernel's rules for interface names.
func FuzzDecodeCNIRequest(f *testing.F) {
	for _, cmd := range []string{"ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", ""} {
		req, _ := json.Marshal(CNIRequest{Command: cmd, ContainerID: "c1", Netns: "/proc/self/ns/net", IfName: "eth0", Args: "K8S_POD_NAME=web", Config: json.RawMessage(`{"cniVersion":"1.1.0","name":"cane","pool":"prod"}`)})
		f.Add(req)
	}
	for _, s := range []string{
		`{"command":"ADD","containerID":"../../x","ifName":"eth0","config":{}}`,
		`{"command":"ADD","containerID":"c","ifName":"` + strings.Repeat("e", 64) + `","netns":"/nonexistent","config":{"cniVersion":"1.1.0","name":"n"}}`,
		`{"command":"ADD","containerID":"c","ifName":"eth\r"}`, `{"command":"DEL","containerID":"c","ifName":".."}`,
		`{"command":"ADD"} {"command":"DEL"}`, `{"command":"ADD","surprise":1}`, `{"config":"x"}`, `{`, ``, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := DecodeCNIRequest(bytes.NewReader(body))
		if e != nil {
			if e.Code != types.ErrDecodingFailure || e.Msg != "malformed request" || req.Command != "" || req.Config != nil {
				t.Fatalf("refusal %+v with request %+v", e, req)
			}
			return
		}
		fixedPoint(t, req, new(CNIRequest))
		e = req.CheckAttachment()
		idOK := req.ContainerID != "" && len(req.ContainerID) <= 256 && !strings.ContainsAny(req.ContainerID, "/\x00")
		switch {
		case e == nil && (!idOK || !kernelValidName(req.IfName)):
			t.Fatalf("accepted container %q, ifname %q", req.ContainerID, req.IfName)
		case e != nil && e.Code != types.ErrInvalidEnvironmentVariables:
			t.Fatalf("error code %d: %+v", e.Code, e)
		case e != nil && e.Msg == "invalid CNI_IFNAME" && (!idOK || kernelValidName(req.IfName)):
			t.Fatalf("refused ifname %q (container %q ok: %v)", req.IfName, req.ContainerID, idOK)
		case e != nil && e.Msg == "invalid CNI_CONTAINERID" && idOK:
			t.Fatalf("refused container %q", req.ContainerID)
		}
	})
}

// FuzzDecodeStrict: the socket's other request bodies (a trace: loans are
// no longer written through caned), chosen by the first byte. Whatever is accepted encodes to a fixed
// point; an accepted body followed by anything but white space is refused.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		"t" + `{"from":"shop/web","to":"198.19.0.3","proto":"tcp","port":80,"srcIP":"198.19.0.9"}`,
		"t{\"to\":\"::1\"}", "t{} {}", "t{\"to\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		newV := map[byte]func() any{'t': func() any { return new(TraceRequest) }}[data[0]]
		if newV == nil {
			return
		}
		v := newV()
		if DecodeStrict(bytes.NewReader(data[1:]), v) != nil {
			return
		}
		fixedPoint(t, v, newV())
		if DecodeStrict(bytes.NewReader(append(bytes.Clone(data[1:]), " 0"...)), newV()) == nil {
			t.Fatalf("accepted %q with data after it", data[1:])
		}
	})
}

// fixedPoint: v, once decoded, encodes to bytes that decode strictly
// (into fresh) and encode to the same bytes again.
func fixedPoint(t *testing.T, v, fresh any) {
	t.Helper()
	first, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("decoded %+v does not encode: %v", v, err)
	}
	if err := DecodeStrict(bytes.NewReader(first), fresh); err != nil {
		t.Fatalf("own encoding %s refused: %v", first, err)
	}
	second, err := json.Marshal(fresh)
	if err != nil || !bytes.Equal(first, second) {
		t.Fatalf("encoding is not a fixed point: %s then %s (%v)", first, second, err)
	}
}

// kernelValidName is dev_valid_name (net/core/dev.c) over the bytes of
// name, with the kernel's isspace (lib/ctype.c: \t \n \v \f \r, space and
// 0xa0), plus NUL, which would end the kernel's string early.
func kernelValidName(name string) bool {
	if name == "" || len(name) >= 16 || name == "." || name == ".." {
		return false
	}
	for _, c := range []byte(name) {
		if c == '/' || c == ':' || c == 0 || c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0 {
			return false
		}
	}
	return true
}
