package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
	"github.com/cane-cni/cane/netconf"
)

// fakeCluster answers PodAnnotation and NamespaceLabel from maps, and
// counts pod reads.
type fakeCluster struct {
	pools    map[string]string // pod "ns/name" -> cane.io/pool
	domains  map[string]string // namespace -> cane.io/domain
	err      error
	podReads *int
}

func (f fakeCluster) PodAnnotation(_ context.Context, ns, name, _ string) (string, error) {
	if f.podReads != nil {
		*f.podReads++
	}
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
	v.Usable["test"] = false                      // the test pool's nodeSelector leaves this node out
	v.Domains[0].Namespaces = []string{"partner"} // production admits namespace partner by its Domain object
	reads := 0
	cluster := fakeCluster{
		pools: map[string]string{"shop/web-0": "prod", "qa/sneak": "prod", "plain/sneak": "prod", "partner/api": "prod",
			"shop/tester": "test", "shop/typo": "nope"},
		domains:  map[string]string{"shop": "production", "qa": "test", "plain": "", "partner": "test"},
		podReads: &reads,
	}
	fromRuntime := func(pool string) netconf.NetConf {
		nc := netconf.NetConf{Pool: "x"}
		nc.RuntimeConfig.PodAnnotations = map[string]string{annotationPool: pool}
		return nc
	}
	tests := []struct {
		name     string
		nc       netconf.NetConf
		args     netconf.Args
		cluster  podLabels
		want     string
		wantCode uint
		wantMsg  string
	}{
		{"CNI_ARGS first", netconf.NetConf{Pool: "x"}, netconf.Args{Pool: "arg", PodNamespace: "shop", PodName: "web-0"}, cluster, "arg", 0, ""},
		{"pod annotation of the namespace's domain", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "shop", PodName: "web-0"}, cluster, "prod", 0, ""},
		{"namespace domain", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "shop", PodName: "web-1"}, cluster, "prod", 0, ""},
		{"annotation naming another domain's pool", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "qa", PodName: "sneak"}, cluster, "", api.CodePoolForbidden,
			`pool "prod" of domain "production"; namespace qa is in domain "test"`},
		{"annotation from a namespace in no domain", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "plain", PodName: "sneak"}, cluster, "", api.CodePoolForbidden,
			"namespace plain is in no domain"},
		{"annotation the runtime passed, checked the same", fromRuntime("prod"), netconf.Args{PodNamespace: "qa", PodName: "p"}, cluster, "", api.CodePoolForbidden, "Domain production does not list it"},
		{"a domain that lists the namespace", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "partner", PodName: "api"}, cluster, "prod", 0, ""},
		{"a domain's pool outside this node is still the namespace's to name", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "qa", PodName: "other"}, fakeCluster{pools: map[string]string{"qa/other": "test"}, domains: map[string]string{"qa": "test"}}, "test", 0, ""},
		{"another domain's pool from a production namespace", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "shop", PodName: "tester"}, cluster, "", api.CodePoolForbidden, `namespace shop is in domain "production"`},
		{"an unknown pool is IPAM's to refuse", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "shop", PodName: "typo"}, cluster, "nope", 0, ""},
		{"netconf default", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "plain", PodName: "p"}, cluster, "x", 0, ""},
		{"static mode", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "qa", PodName: "p"}, nil, "x", 0, ""},
		{"domain without a usable pool is a configuration error", netconf.NetConf{Pool: "x"}, netconf.Args{PodNamespace: "qa", PodName: "p"}, cluster, "", api.CodeNoUsablePool, ""},
		{"API unreachable: try again", netconf.NetConf{}, netconf.Args{PodNamespace: "qa", PodName: "p"}, fakeCluster{err: errors.New("timeout")}, "", types.ErrTryAgainLater, ""},
		{"nothing names a pool", netconf.NetConf{}, netconf.Args{}, nil, "", types.ErrInvalidNetworkConfig, ""},
	}
	for _, tc := range tests {
		c := &poolChooser{node: "n1", cluster: tc.cluster, views: views}
		got, e := c.choose(context.Background(), &tc.nc, tc.args)
		var code uint
		if e != nil {
			code = e.Code
		}
		if got != tc.want || code != tc.wantCode || (tc.wantMsg != "" && !strings.Contains(e.Details, tc.wantMsg)) {
			t.Errorf("%s: %q, %v; want %q, code %d, %q", tc.name, got, e, tc.want, tc.wantCode, tc.wantMsg)
		}
	}
	reads = 0
	c := &poolChooser{node: "n1", cluster: cluster, views: views}
	if _, e := c.choose(context.Background(), ptr(fromRuntime("prod")), netconf.Args{PodNamespace: "shop", PodName: "web-0"}); e != nil || reads != 0 {
		t.Errorf("annotations from the runtime: %v, %d pod reads (want none)", e, reads)
	}
}

func ptr[T any](v T) *T { return &v }
