package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/netconf"
)

// fakeCluster answers PodAnnotation and NamespaceLabel from maps.
type fakeCluster struct {
	pools   map[string]string // pod "ns/name" -> cane.io/pool
	domains map[string]string // namespace -> cane.io/domain
	err     error
}

func (f fakeCluster) PodAnnotation(_ context.Context, ns, name, _ string) (string, error) {
	return f.pools[ns+"/"+name], f.err
}

func (f fakeCluster) NamespaceLabel(_ context.Context, ns, _ string) (string, error) {
	return f.domains[ns], f.err
}

func TestPoolChooser(t *testing.T) {
	cfg, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	views := newClusterView(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v := views.load()
	v.Usable["test"] = false // the test pool's nodeSelector leaves this node out
	cluster := fakeCluster{
		pools:   map[string]string{"shop/web-0": "prod"},
		domains: map[string]string{"shop": "production", "qa": "test", "plain": ""},
	}
	tests := []struct {
		name     string
		nc       netconf.NetConf
		args     netconf.Args
		cluster  podLabels
		want     string
		wantCode uint
	}{
		{"CNI_ARGS first", netconf.NetConf{Pool: "x"}, netconf.Args{Pool: "arg", PodNamespace: "shop", PodName: "web-0"}, cluster, "arg", 0},
		{"pod annotation", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "shop", PodName: "web-0"}, cluster, "prod", 0},
		{"namespace domain", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "shop", PodName: "web-1"}, cluster, "prod", 0},
		{"netconf default", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "plain", PodName: "p"}, cluster, "x", 0},
		{"static mode", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "qa", PodName: "p"}, nil, "x", 0},
		{"domain without a usable pool is a configuration error", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "qa", PodName: "p"}, cluster, "", api.CodeNoUsablePool},
		{"API unreachable: try again", netconf.NetConf{}, netconf.Args{PodNamespace: "qa", PodName: "p"}, fakeCluster{err: errors.New("timeout")}, "", types.ErrTryAgainLater},
		{"nothing names a pool", netconf.NetConf{}, netconf.Args{}, nil, "", types.ErrInvalidNetworkConfig},
	}
	for _, tc := range tests {
		c := &poolChooser{node: "n1", cluster: tc.cluster, views: views}
		got, e := c.choose(context.Background(), &tc.nc, tc.args)
		var code uint
		if e != nil {
			code = e.Code
		}
		if got != tc.want || code != tc.wantCode {
			t.Errorf("%s: %q, %v; want %q, code %d", tc.name, got, e, tc.want, tc.wantCode)
		}
	}
}
