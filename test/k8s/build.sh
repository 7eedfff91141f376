#!/usr/bin/env bash
# Builds the test cluster's programs from the Go module proxy into a cache
# keyed by versions: kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet and kube-proxy in one `go install` pass (one cgo setting, -trimpath,
# versions stamped as upstream's hack/lib/version.sh does), etcd, containerd
# with its runc shim and ctr, CoreDNS, and the pause program from Kubernetes'
# own pause.c. Each part is rebuilt only when its inputs (go.mod, go.sum,
# sources, Go version, flags) change, so a second run costs nothing.
#
# Prints the cache's bin directory as its last line. Needs go (1.24+) and gcc
# with a static libc (Debian: golang-go or the Go tarball, gcc, libc6-dev).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# module_version prints the version a module's go.mod requires of a dependency.
module_version() { sed -n "s#^\s*\(require \)\?$2 \(v[^ ]*\).*#\2#p" "$here/$1/go.mod" | head -n1; }

k8s_version=$(module_version kubernetes k8s.io/kubernetes)
[ -n "$k8s_version" ] || { echo "build.sh: cannot read the Kubernetes version from $here/kubernetes/go.mod" >&2; exit 1; }
cache_root=${DEVNET_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/devnet-k8s}
cache=$cache_root/$k8s_version
bin=$cache/bin
stamps=$cache/stamps
mkdir -p "$bin" "$stamps"

command -v go >/dev/null || { echo "build.sh: go is not installed; install Go 1.24 or newer (Debian: apt-get install golang-go, or the Go release tarball)" >&2; exit 1; }
go_version=$(go env GOVERSION)
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# fresh NAME INPUTS...: true when NAME's stamp matches the hash of its inputs (and flags).
fresh() {
  local name=$1; shift
  local want
  want=$( { echo "$go_version $CGO_ENABLED"; cat "$@"; } | sha256sum | cut -d' ' -f1)
  echo "$want" > "$stamps/$name.want"
  [ -f "$stamps/$name" ] && [ "$(cat "$stamps/$name")" = "$want" ]
}
done_stamp() { mv "$stamps/$1.want" "$stamps/$1"; }

started=$(date +%s)
built=()

# Kubernetes: one pass for the five server programs, stamped like upstream.
ldflags="-s -w"
minor=$(echo "$k8s_version" | cut -d. -f2)
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
if ! fresh kubernetes "$here/kubernetes/go.mod" "$here/kubernetes/go.sum" <(echo "$ldflags"); then
  echo "building Kubernetes $k8s_version (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy)" >&2
  (cd "$here/kubernetes" && GOBIN=$bin go install -trimpath -tags selinux,notest -ldflags "$ldflags" tool)
  done_stamp kubernetes; built+=(kubernetes)
fi

etcd_version=$(module_version etcd go.etcd.io/etcd/server/v3)
if ! fresh etcd "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/etcd/main.go"; then
  echo "building etcd $etcd_version" >&2
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
  done_stamp etcd; built+=(etcd)
fi

containerd_version=$(module_version containerd github.com/containerd/containerd/v2)
cd_ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd_version -X github.com/containerd/containerd/v2/version.Revision=devnet"
if ! fresh containerd "$here/containerd/go.mod" "$here/containerd/go.sum" <(echo "$cd_ld"); then
  echo "building containerd $containerd_version, containerd-shim-runc-v2, ctr" >&2
  (cd "$here/containerd" && GOBIN=$bin go install -trimpath -ldflags "$cd_ld" tool)
  done_stamp containerd; built+=(containerd)
fi

coredns_version=$(module_version coredns github.com/coredns/coredns)
if ! fresh coredns "$here/coredns/go.mod" "$here/coredns/go.sum" "$here/coredns/main.go"; then
  echo "building CoreDNS $coredns_version" >&2
  (cd "$here/coredns" && go build -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=devnet" -o "$bin/coredns" .)
  done_stamp coredns; built+=(coredns)
fi

# pause: Kubernetes' own pause.c, compiled as its Makefile does.
pause_src=$(cd "$here/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
pause_tag=$(sed -n 's/^TAG ?= //p' "$(dirname "$(dirname "$pause_src")")/Makefile")
if ! fresh pause "$pause_src" <(echo "$pause_tag"); then
  command -v gcc >/dev/null || { echo "build.sh: gcc is needed to build pause (apt-get install gcc libc6-dev)" >&2; exit 1; }
  echo "building pause $pause_tag" >&2
  gcc -Os -Wall -Werror -static -DVERSION="v$pause_tag-devnet" -o "$bin/pause" "$pause_src"
  done_stamp pause; built+=(pause)
fi
echo "$pause_tag" > "$cache/pause-version"
printf 'kubernetes=%s\netcd=%s\ncontainerd=%s\ncoredns=%s\npause=%s\ngo=%s\n' \
  "$k8s_version" "$etcd_version" "$containerd_version" "$coredns_version" "$pause_tag" "$go_version" > "$cache/versions"

elapsed=$(( $(date +%s) - started ))
if [ ${#built[@]} -gt 0 ]; then
  echo "built ${built[*]} in ${elapsed}s (cache: $cache)" >&2
else
  echo "everything up to date in ${elapsed}s (cache: $cache)" >&2
fi
echo "$bin"
