#!/usr/bin/env bash
# Make an OCI image layout tar (what `ctr image import` and `podman load` read) of a root
# filesystem, offline: one uncompressed layer, a config for linux/amd64 with CMD /bin/sh,
# one manifest whose index entry is named REF (org.opencontainers.image.ref.name).
#   tests/mkoci.sh ROOTFS OUT.tar [REF]
set -euo pipefail
rootfs=${1:?usage: tests/mkoci.sh ROOTFS OUT.tar [REF]}
out=${2:?usage: tests/mkoci.sh ROOTFS OUT.tar [REF]}
ref=${3:-1}
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) echo "mkoci: unknown architecture $(uname -m)" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
blobs=$work/blobs/sha256
mkdir -p "$blobs"
# A blob from a file: moved to blobs/sha256/<digest>; prints "<digest> <size>".
blob() {
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  mv "$1" "$blobs/$d"
  echo "$d $s"
}
# The layer: the root filesystem as root-owned numeric entries, in a stable order.
tar -C "$rootfs" --numeric-owner --sort=name -cf "$work/layer" .
read -r ld ls < <(blob "$work/layer")
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"tests/mkoci.sh"}]}' \
  "$arch" "$ld" > "$work/config"
read -r cd cs < <(blob "$work/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$cd" "$cs" "$ld" "$ls" > "$work/manifest"
read -r md ms < <(blob "$work/manifest")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"%s","os":"linux"}}]}' \
  "$md" "$ms" "$ref" "$arch" > "$work/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
tar -C "$work" --numeric-owner --sort=name -cf "$out" oci-layout index.json blobs
