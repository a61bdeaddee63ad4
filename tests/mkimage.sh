#!/usr/bin/env bash
# Make a small busybox root filesystem at DIR: busybox-static with its applets, a passwd
# and group file (root, user 1000), and the usual empty directories.
#   tests/mkimage.sh DIR
set -euo pipefail
dir=${1:?usage: tests/mkimage.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] && "$bb" --list >/dev/null 2>&1 || { echo "mkimage: busybox-static is not installed" >&2; exit 1; }
file -L "$bb" 2>/dev/null | grep -q 'statically linked' || { echo "mkimage: $bb is not static (install busybox-static)" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home/user,var}
cp "$bb" "$dir/bin/busybox"
for a in $("$bb" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
done
chmod 1777 "$dir/tmp"
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:User:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dir/etc/group" <<'G'
root:x:0:
tty:x:5:
staff:x:50:user
user:x:1000:
nogroup:x:65534:
G
chown 1000:1000 "$dir/home/user"
echo "image ready: $dir"
