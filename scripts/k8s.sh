#!/usr/bin/env bash
# Builds Kubernetes server binaries (default: kube-apiserver) from the Go
# module proxy, once, into a cache outside the repo, and prints the dir.
# Debian has no kube-apiserver package; this is how the e2e tests get a
# real one. Cold: ~8 min on 2 cores; cached: instant.
#   scripts/k8s.sh [kube-apiserver] [kubelet]
set -euo pipefail
V=1.32.13
OUT=${CANE_K8S_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cane/k8s-v$V}
bins=("$@")
((${#bins[@]})) || bins=(kube-apiserver)
missing=()
for b in "${bins[@]}"; do [ -x "$OUT/$b" ] || missing+=("$b"); done
if ((${#missing[@]} == 0)); then echo "$OUT"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
  # the matching published version instead.
  sed -n "s|^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*|\t\1 => \1 v0.${V#1.}|p" "$gomod"
  echo ")"
} > "$work/go.mod"
{
  echo "//go:build tools"
  echo
  echo "package tools"
  echo
  echo "import ("
  for b in "${missing[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
  echo ")"
} > "$work/tools.go"
mkdir -p "$OUT"
cd "$work"
echo "k8s: building ${missing[*]} v$V into $OUT (first time only, several minutes)" >&2
go mod tidy >&2
major=${V%%.*}; minor=${V#*.}; minor=${minor%%.*}
ld="-s -w -X k8s.io/component-base/version.gitVersion=v$V"
ld="$ld -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
for b in "${missing[@]}"; do
  go build -ldflags "$ld" -o "$OUT/$b" "k8s.io/kubernetes/cmd/$b" >&2
done
echo "$OUT"
