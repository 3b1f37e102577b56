#!/usr/bin/env bash
# Builds Kubernetes binaries (default: kube-apiserver) from the Go module
# proxy, once, into a cache outside the repo, and prints the dir. Debian
# has no Kubernetes server package; this is how the tests get real ones.
#   scripts/k8s.sh [kube-apiserver] [kubelet] [kube-proxy] [kube-scheduler]
#                  [kube-controller-manager] [kubectl] [agnhost] [e2e.test]
# Cold: ~8 min for the apiserver on 2 cores, each further one less (the
# build cache is shared); cached: instant.
set -euo pipefail
V=1.32.13
OUT=${CANE_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cane/k8s-v$V}
bins=("$@")
((${#bins[@]})) || bins=(kube-apiserver)
missing=()
for b in "${bins[@]}"; do [ -x "$OUT/$b" ] || missing+=("$b"); done
if ((${#missing[@]} == 0)); then echo "$OUT"; exit 0; fi

# Import path of each binary.
pkg() {
  case "$1" in
    agnhost) echo k8s.io/kubernetes/test/images/agnhost ;;
    e2e.test) echo k8s.io/kubernetes/test/e2e ;;
    *) echo "k8s.io/kubernetes/cmd/$1" ;;
  esac
}

# One tools module for every binary, so the build cache is shared.
work=${XDG_CACHE_HOME:-$HOME/.cache}/cane/k8s-tools-v$V
mkdir -p "$work"
gomod=$(go mod download -json "k8s.io/kubernetes@v$V" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
{
  echo "module cane.local/k8s-tools"
  echo
  echo "go 1.23.0"
  echo
  echo "require k8s.io/kubernetes v$V"
  echo
  echo "replace ("
  # Every staging module kubernetes replaces with a local path, pinned to
  # the matching published version instead. The module proxy refuses two
  # of them at v0.32.13 (403): the nearest served versions stand in.
  sed -n "s|^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*|\t\1 => \1 v0.${V#1.}|p" "$gomod" |
    sed -e "s|k8s.io/endpointslice v0.${V#1.}|k8s.io/endpointslice v0.32.12|" \
        -e "s|k8s.io/sample-apiserver v0.${V#1.}|k8s.io/sample-apiserver v0.32.3|"
  echo ")"
} > "$work/go.mod.new"
{
  echo "//go:build tools"
  echo
  echo "package tools"
  echo
  echo "import ("
  for b in kube-apiserver kubelet kube-proxy kube-scheduler kube-controller-manager kubectl agnhost e2e.test; do
    echo "	_ \"$(pkg "$b")\""
  done
  echo ")"
} > "$work/tools.go"
if ! cmp -s "$work/go.mod.new" "$work/go.mod.in" 2>/dev/null; then
  cp "$work/go.mod.new" "$work/go.mod"
  cp "$work/go.mod.new" "$work/go.mod.in"
  rm -f "$work/go.sum"
  (cd "$work" && go mod tidy >&2)
fi
mkdir -p "$OUT"
cd "$work"
echo "k8s: building ${missing[*]} v$V into $OUT (first time only, several minutes)" >&2
major=${V%%.*}; minor=${V#*.}; minor=${minor%%.*}
ld="-s -w -X k8s.io/component-base/version.gitVersion=v$V"
ld="$ld -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
for b in "${missing[@]}"; do
  case "$b" in
    e2e.test) go test -c -ldflags "$ld" -o "$OUT/$b.tmp" "$(pkg "$b")" >&2 ;;
    # agnhost runs in images packed here: static, whatever their libc.
    agnhost) CGO_ENABLED=0 go build -ldflags "$ld" -o "$OUT/$b.tmp" "$(pkg "$b")" >&2 ;;
    *) go build -ldflags "$ld" -o "$OUT/$b.tmp" "$(pkg "$b")" >&2 ;;
  esac
  mv "$OUT/$b.tmp" "$OUT/$b"
done
echo "$OUT"
