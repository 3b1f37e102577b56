// Package netconf parses what the runtime hands the cane plugin and caned
// forwards verbatim: the network configuration (the plugin's stdin) and
// CNI_ARGS. Pure: no I/O, and nothing heavier than the CNI types, so its
// fuzz targets run thousands of inputs a second.
package netconf

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cane-cni/cane/api"
)

// NetConf is Cane's network configuration (the CNI plugin's stdin). It is
// read, never written: json.Marshal of a NetConf uses the embedded
// PluginConf's MarshalJSON, which writes only PluginConf's own fields.
type NetConf struct {
	types.PluginConf
	Socket        string `json:"socket,omitempty"`
	Pool          string `json:"pool,omitempty"` // default pool
	RuntimeConfig struct {
		Pool string `json:"pool,omitempty"`
		// Bandwidth is the CNI bandwidth capability (bits/s, bits), as
		// containerd fills it from the pod's kubernetes.io/*-bandwidth
		// annotations.
		Bandwidth *Bandwidth `json:"bandwidth,omitempty"`
		// PodAnnotations are the pod's annotations, as containerd and
		// CRI-O pass them to a plugin that declares the
		// io.kubernetes.cri.pod-annotations capability: nil if the
		// runtime passed none (then caned reads the pod from the API).
		PodAnnotations map[string]string `json:"io.kubernetes.cri.pod-annotations,omitempty"`
	} `json:"runtimeConfig,omitempty"`
}

// Bandwidth is the bandwidth capability's runtime config.
type Bandwidth struct {
	IngressRate  uint64 `json:"ingressRate,omitempty"`
	IngressBurst uint64 `json:"ingressBurst,omitempty"`
	EgressRate   uint64 `json:"egressRate,omitempty"`
	EgressBurst  uint64 `json:"egressBurst,omitempty"`
}

// Parse decodes and checks a netconf. Errors are CNI errors with code 7
// (invalid network config: too large, no cniVersion, no name) or 6 (cannot
// decode); a config is returned only without an error.
func Parse(data []byte) (*NetConf, *types.Error) {
	if len(data) > api.MaxNetConf {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "network config too large", fmt.Sprintf("%d bytes, limit %d", len(data), api.MaxNetConf))
	}
	var nc NetConf
	if err := json.Unmarshal(data, &nc); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "cannot decode network config", err.Error())
	}
	if nc.CNIVersion == "" {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "network config has no cniVersion", "")
	}
	if nc.Name == "" {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "network config has no name", "")
	}
	return &nc, nil
}

// ExplicitPool is the pool the runtime names: CNI_ARGS CANE_POOL, then
// runtimeConfig; "" if neither does (the cluster or the netconf's default
// pool decides then).
func (nc *NetConf) ExplicitPool(a Args) string {
	if a.Pool != "" {
		return a.Pool
	}
	return nc.RuntimeConfig.Pool
}

// Args are the CNI_ARGS Cane reads.
type Args struct {
	PodNamespace string // K8S_POD_NAMESPACE
	PodName      string // K8S_POD_NAME
	Pool         string // CANE_POOL
}

// ParseArgs reads "K=V;K=V" CNI_ARGS. Unknown keys are ignored, as the
// runtime passes keys for every plugin in a chain; a pair without '=' is
// an error. A key given twice keeps its last value.
func ParseArgs(s string) (Args, error) {
	var a Args
	if s == "" {
		return a, nil
	}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return a, fmt.Errorf("CNI_ARGS: %q is not KEY=VALUE", kv)
		}
		switch k {
		case "K8S_POD_NAMESPACE":
			a.PodNamespace = v
		case "K8S_POD_NAME":
			a.PodName = v
		case "CANE_POOL":
			a.Pool = v
		}
	}
	return a, nil
}
