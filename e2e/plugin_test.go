package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/cane-cni/cane/e2e/testbed"
)

// execCane runs the cane binary as a runtime would and returns its stdout.
func execCane(t *testing.T, env map[string]string, stdin string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "cane"))
	cmd.Env = []string{"CNI_PATH=" + binDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.String(), err
}

// TestPluginErrors: what the runtime sees when things are wrong.
func TestPluginErrors(t *testing.T) {
	netns := "/proc/self/ns/net"
	env := func(cmd string) map[string]string {
		return map[string]string{"CNI_COMMAND": cmd, "CNI_CONTAINERID": "c1", "CNI_NETNS": netns, "CNI_IFNAME": "eth0"}
	}
	noDaemon := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"cane","type":"cane","socket":%q}`, filepath.Join(t.TempDir(), "none.sock"))
	tests := []struct {
		name, cmd, conf string
		code            uint
		msg             string
	}{
		{"caned down", "ADD", noDaemon, types.ErrTryAgainLater, "caned is not reachable"},
		{"caned down on DEL", "DEL", noDaemon, types.ErrTryAgainLater, "caned is not reachable"},
		{"caned down on STATUS", "STATUS", noDaemon, types.ErrTryAgainLater, "caned is not reachable"},
		{"not JSON", "ADD", `{"cniVersion":`, types.ErrDecodingFailure, ""},
		{"unknown version", "ADD", `{"cniVersion":"9.9.9","name":"cane","type":"cane"}`, types.ErrIncompatibleCNIVersion, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := execCane(t, env(tc.cmd), tc.conf)
			if err == nil {
				t.Fatalf("cane succeeded: %s", out)
			}
			var e types.Error
			if jerr := json.Unmarshal([]byte(out), &e); jerr != nil {
				t.Fatalf("stdout is not a CNI error: %q", out)
			}
			if e.Code != tc.code || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("error %+v, want code %d and %q", e, tc.code, tc.msg)
			}
			if tc.code == types.ErrTryAgainLater && !strings.Contains(e.Details, "check that caned runs") {
				t.Errorf("no advice in %q", e.Details)
			}
		})
	}
	t.Run("VERSION", func(t *testing.T) {
		out, err := execCane(t, map[string]string{"CNI_COMMAND": "VERSION"}, `{"cniVersion":"1.1.0"}`)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
			if !strings.Contains(out, `"`+v+`"`) {
				t.Errorf("VERSION lacks %s: %s", v, out)
			}
		}
	})
}

// TestCNIVersions: every version libcni can convert to gets a result it
// can read, and CHECK and DEL work where the version has them.
func TestCNIVersions(t *testing.T) {
	tb, c, node := startNode(t)
	for _, v := range []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
		t.Run(v, func(t *testing.T) {
			list, err := libcni.ConfListFromBytes([]byte(fmt.Sprintf(`{"cniVersion":%q,"name":"cane","plugins":[{"type":"cane","socket":%q,"pool":"prod"}]}`, v, node.Socket)))
			if err != nil {
				t.Fatal(err)
			}
			netns, err := tb.NewNetNS()
			if err != nil {
				t.Fatal(err)
			}
			rt := &libcni.RuntimeConf{ContainerID: "v" + strings.ReplaceAll(v, ".", ""), NetNS: netns.Path(), IfName: "eth0"}
			res, err := tb.CNI().AddNetworkList(c, list, rt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Version() != v {
				t.Errorf("result version %s", res.Version())
			}
			r, err := current.NewResultFromResult(res)
			if err != nil || len(r.IPs) != 1 {
				t.Fatalf("result %v: %v", res, err)
			}
			if v != "0.3.1" {
				if err := tb.CNI().CheckNetworkList(c, list, rt); err != nil {
					t.Errorf("CHECK: %v", err)
				}
			}
			if err := tb.CNI().DelNetworkList(c, list, rt); err != nil {
				t.Fatalf("DEL: %v", err)
			}
		})
	}
	assertEmpty(t, c, node)
}

// TestStatusAndGC: STATUS says ready, GC removes what the runtime no
// longer knows, and STATUS says not available once caned is gone.
func TestStatusAndGC(t *testing.T) {
	tb, c, node := startNode(t)
	list, _ := node.ConfList()
	if err := tb.CNI().GetStatusNetworkList(c, list); err != nil {
		t.Fatalf("STATUS: %v", err)
	}
	keep, err := tb.AddPod(c, node, "shop/keep", "prod")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := tb.AddPod(c, node, "shop/gone", "prod")
	if err != nil {
		t.Fatal(err)
	}
	err = tb.CNI().GCNetworkList(c, list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: keep.ContainerID, IfName: "eth0"}}})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	if err := tb.Check(c, keep); err != nil {
		t.Errorf("valid pod broken by GC: %v", err)
	}
	if err := tb.Check(c, gone); err == nil {
		t.Error("GC kept an attachment the runtime did not list")
	}
	if ok, _ := testbed.Ping(gone.NS, keep.IP); ok {
		t.Error("collected pod still reaches the network")
	}
	if err := node.StopCaned(); err != nil {
		t.Fatal(err)
	}
	err = tb.CNI().GetStatusNetworkList(context.Background(), list)
	var e *types.Error
	if !errors.As(err, &e) || e.Code != types.ErrTryAgainLater {
		t.Fatalf("STATUS with caned stopped: %v", err)
	}
	if err := node.StartCaned(c); err != nil {
		t.Fatal(err)
	}
}
