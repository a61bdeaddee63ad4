#!/usr/bin/env bash
# Install the Debian packages the tests need, only those that are missing.
# Loud on failure: a test that cannot run must not pass.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# linux-libc-dev-arm64-cross: the aarch64 system-call numbers the seccomp unit tests check
# their aarch64 table against. podman, runc, python3: crab-can inside another engine's
# container (tests/portability.rs). containerd (with ctr and its shims), docker.io (dockerd
# and Debian's docker client, /usr/bin/docker), podman and conmon, tmux: real engines driving
# runc and crab-can (tests/engines.rs). uidmap (newuidmap, newgidmap; podman only
# recommends it): a user's /etc/subuid and /etc/subgid range in a rootless container
# (tests/rootless.rs) and rootless podman's user namespace (tests/engines.rs).
for p in busybox-static file tmux gcc libc6-dev cpio qemu-system-x86 iproute2 procps bsdutils strace \
  linux-libc-dev-arm64-cross podman conmon runc python3 containerd docker.io uidmap; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/deps.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || { echo "tests/deps.sh: apt-get update failed" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "tests/deps.sh: cannot install ${need[*]}" >&2; exit 1; }
fi
