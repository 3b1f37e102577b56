#!/usr/bin/env bash
# Installs what Cane's build, demo and tests need on a Debian machine:
# Open vSwitch (started per node by the tests themselves, never as a
# system service), etcd (for the tests' kube-apiserver), containerd + runc
# and iptables (the kubelet tier; portmap), iproute2, and checks Go.
# Idempotent; needs root. kube-apiserver and kubelet are built from the Go
# module proxy by scripts/k8s.sh.
set -euo pipefail

need=()
command -v ovs-vswitchd >/dev/null || need+=(openvswitch-switch)
command -v ip >/dev/null || need+=(iproute2)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
command -v iptables >/dev/null || need+=(iptables)
if ((${#need[@]})); then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's package may start OVS through its init script where an init
# system exists; Cane's tests run private instances and need no system one.

if ! command -v go >/dev/null; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "deps: Go is at /usr/local/go/bin; add it to PATH"
  else
    echo "deps: Go 1.24+ is needed (https://go.dev/doc/install)" >&2
    exit 1
  fi
fi
echo "deps: ok ($(ovs-vswitchd --version | head -1), $(go version 2>/dev/null || /usr/local/go/bin/go version))"
