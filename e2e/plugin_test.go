package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/e2e/testbed"
	"github.com/cane-cni/cane/podnet/podnettest"
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
	keep := mustAddPod(t, tb, c, node, "shop/keep", "prod")
	gone := mustAddPod(t, tb, c, node, "shop/gone", "prod")
	err := tb.CNI().GCNetworkList(c, list, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: keep.ContainerID, IfName: "eth0"}}})
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

// TestBadInput: malformed, hostile and impossible requests from a runtime
// get the right CNI error, and leave nothing half-done on the node.
func TestBadInput(t *testing.T) {
	_, c, node := startNode(t)
	pod := podnettest.NewNS(t).Path()
	conf := func(extra string) string {
		return fmt.Sprintf(`{"cniVersion":"1.1.0","name":"cane","type":"cane","socket":%q,"pool":"prod"%s}`, node.Socket, extra)
	}
	env := func(kv ...string) map[string]string {
		m := map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "bad-1", "CNI_NETNS": pod, "CNI_IFNAME": "eth0", "CNI_ARGS": "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=bad"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		env   map[string]string
		stdin string
		code  uint
		msg   string
	}{
		{"huge stdin", env(), conf(`,"x":"` + strings.Repeat("a", 2<<20) + `"`), types.ErrInvalidNetworkConfig, "too large"},
		{"deeply nested JSON", env(), conf(`,"x":` + strings.Repeat("[", 100000)), types.ErrDecodingFailure, ""},
		{"no name", env(), `{"cniVersion":"1.1.0","type":"cane","socket":"` + node.Socket + `"}`, types.ErrInvalidNetworkConfig, "network name"},
		{"netns missing", env("CNI_NETNS", "/run/netns/no-such-pod"), conf(""), types.ErrInvalidNetNS, "not a network namespace"},
		{"netns a directory", env("CNI_NETNS", "/run"), conf(""), types.ErrInvalidNetNS, "not a network namespace"},
		{"netns a regular file", env("CNI_NETNS", "/etc/hostname"), conf(""), types.ErrInvalidNetNS, "not a network namespace"},
		{"ifname too long", env("CNI_IFNAME", "eth0123456789abc"), conf(""), types.ErrInvalidEnvironmentVariables, "interface name"},
		{"ifname with a slash", env("CNI_IFNAME", "../eth0"), conf(""), types.ErrInvalidEnvironmentVariables, "interface name"},
		{"CNI_ARGS not KEY=VALUE", env("CNI_ARGS", "K8S_POD_NAME"), conf(""), types.ErrInvalidEnvironmentVariables, ""},
		{"unknown pool", env(), conf(`,"pool":"nope"`), api.CodeUnknownPool, "nope"},
		{"unknown command", env("CNI_COMMAND", "EXPLODE"), conf(""), types.ErrInvalidEnvironmentVariables, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := execCane(t, tc.env, tc.stdin)
			if err == nil {
				t.Fatalf("cane succeeded: %.200s", out)
			}
			var e types.Error
			if jerr := json.Unmarshal([]byte(out), &e); jerr != nil {
				t.Fatalf("stdout is not a CNI error: %.200q", out)
			}
			if e.Code != tc.code || !strings.Contains(e.Msg+" "+e.Details, tc.msg) {
				t.Fatalf("error %+v, want code %d and %q", e, tc.code, tc.msg)
			}
		})
	}
	assertEmpty(t, c, node)

	t.Run("unknown fields are a chained plugin's business", func(t *testing.T) {
		out, err := execCane(t, env(), conf(`,"bandwidth":{"egressRate":1000},"futureField":{"a":[1,2]}`))
		if err != nil {
			t.Fatalf("ADD: %v %s", err, out)
		}
		if _, err := execCane(t, env("CNI_COMMAND", "DEL"), conf("")); err != nil {
			t.Fatalf("DEL: %v", err)
		}
		assertEmpty(t, c, node)
	})
}

// TestSocketRootOnly: only root reaches caned. The socket is 0600 in a 0700
// directory, both root's; and were the modes loosened, caned still refuses
// a connection from another user (SO_PEERCRED).
func TestSocketRootOnly(t *testing.T) {
	_, c, node := startNode(t)
	dir := filepath.Dir(node.Socket)
	for path, want := range map[string]os.FileMode{node.Socket: 0o600, dir: 0o700} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want || st.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("%s: mode %v uid %d, want %v and root", path, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, want)
		}
	}
	// canectl as nobody, from a directory nobody may read.
	bin, err := os.MkdirTemp("", "cane-canectl-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(binDir, "canectl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "canectl"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func() string {
		cmd := exec.CommandContext(c, filepath.Join(bin, "canectl"), "--socket", node.Socket, "status")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Errorf("canectl as nobody: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := asNobody(); !strings.Contains(out, "root-only") {
		t.Errorf("as nobody, want a root-only hint, got:\n%s", out)
	}
	// Loosen the socket and every directory above it up to /tmp.
	for p := node.Socket; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(p, st.Mode().Perm()) })
		loose := st.Mode().Perm() | 0o055 // directories: others may enter
		if !st.IsDir() {
			loose = 0o666 // the socket: others may connect
		}
		if err := os.Chmod(p, loose); err != nil {
			t.Fatal(err)
		}
	}
	out := asNobody()
	log, _ := os.ReadFile(node.Log)
	if !strings.Contains(string(log), "refused a connection from another user") || !strings.Contains(string(log), `"uid":65534`) {
		t.Errorf("caned did not refuse nobody by its credentials; canectl said:\n%s\ncaned's log:\n%s", out, log)
	}
}
