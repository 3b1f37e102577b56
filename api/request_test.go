package api

import (
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

func TestValidIfName(t *testing.T) {
	for _, ok := range []string{"eth0", "net1", "a", "abcdefghijklmno", "é0", "a-b.c_d"} {
		if err := ValidIfName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "abcdefghijklmnop", "a/b", ".", "..", "a b", "a:b", "a\x00", "eth\r", "a\vb", "a\fb", "a\xa0"} {
		if ValidIfName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckAttachment(t *testing.T) {
	tests := []struct {
		name string
		req  CNIRequest
		msg  string // "" for accepted
	}{
		{"good", CNIRequest{ContainerID: "c1", IfName: "eth0"}, ""},
		{"no netns needed here", CNIRequest{ContainerID: "c1", IfName: "eth0", Netns: "/nonexistent"}, ""},
		{"no container", CNIRequest{IfName: "eth0"}, "invalid CNI_CONTAINERID"},
		{"container with a slash", CNIRequest{ContainerID: "../x", IfName: "eth0"}, "invalid CNI_CONTAINERID"},
		{"container too long", CNIRequest{ContainerID: strings.Repeat("c", 257), IfName: "eth0"}, "invalid CNI_CONTAINERID"},
		{"bad ifname", CNIRequest{ContainerID: "c1", IfName: "eth0:1"}, "invalid CNI_IFNAME"},
	}
	for _, tc := range tests {
		e := tc.req.CheckAttachment()
		switch {
		case tc.msg == "" && e != nil:
			t.Errorf("%s: %v", tc.name, e)
		case tc.msg != "" && (e == nil || e.Msg != tc.msg || e.Code != types.ErrInvalidEnvironmentVariables):
			t.Errorf("%s: %v, want code 4 %q", tc.name, e, tc.msg)
		}
	}
}

func TestDecodeCNIRequest(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"command":"ADD","containerID":"c1","ifName":"eth0","config":{"cniVersion":"1.1.0"}}`, true},
		{` {"command":"DEL"} ` + "\n", true},
		{`{"command":"ADD"} {"command":"DEL"}`, false},
		{`{"command":"ADD","surprise":1}`, false},
		{`{"command":"ADD"`, false},
		{``, false},
		{`{"config":"` + strings.Repeat("x", MaxRequest) + `"}`, false},
	} {
		req, e := DecodeCNIRequest(strings.NewReader(tc.body))
		if (e == nil) != tc.ok || (e != nil && (e.Code != types.ErrDecodingFailure || e.Msg != "malformed request")) {
			t.Errorf("%.60q: %+v, %v; want ok %v", tc.body, req, e, tc.ok)
		}
	}
}
