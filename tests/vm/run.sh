#!/usr/bin/env bash
# Boot crab-can's test VM (Debian kernel, busybox initramfs, pure cgroup v2) under qemu and run guest
# test scripts in it. Run as root; see tests/vm/README.md.
#
#   tests/vm/run.sh [--arch x86_64|aarch64] [--mode tmpfs|initramfs|both] [GUEST_SCRIPT...]
#
# Environment:
#   VM_ARCH                the guest's architecture when --arch is not given (default x86_64)
#   CRAB_CAN               the static crab-can binary to test, of the guest's architecture (default
#                          ./crab-can; for aarch64 target/small/aarch64-unknown-linux-musl/release/crab-can)
#   VM_KERNEL              a kernel image to boot instead of the Debian package's
#   VM_MODULES             kernel modules to load in the guest, by name ("veth overlay")
#   VM_SCRIPT_TIMEOUT      time bound of each guest script, seconds (default 180)
#   VM_TIMEOUT             time bound of each boot, seconds (default 90 + scripts x script bound)
#   VM_MEMORY, VM_SMP      guest size (default 1024 MiB, 2 CPUs)
#   CARGO                  cargo, to build the Rust test binaries a guest script asks for (default cargo)
set -euo pipefail

say() { printf 'vm: %s\n' "$*" >&2; }
die() {
	printf 'vm: ERROR: %s\n' "$*" >&2
	exit 2
}

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "$0"
	exit "${1:-2}"
}

# Paths given by the caller are resolved before moving to the repository root.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

requested=both
arch=${VM_ARCH:-x86_64}
scripts=()
while (($#)); do
	case $1 in
	--arch) (($# >= 2)) || usage; arch=$2; shift 2 ;;
	--arch=*) arch=${1#*=}; shift ;;
	--mode) (($# >= 2)) || usage; requested=$2; shift 2 ;;
	--mode=*) requested=${1#*=}; shift ;;
	-h | --help) usage 0 ;;
	-*) say "unknown option $1"; usage ;;
	*) scripts+=("$(realpath -m -- "$1")"); shift ;;
	esac
done
case $requested in
tmpfs | initramfs) modes=("$requested") ;;
both) modes=(tmpfs initramfs) ;;
*) die "--mode must be tmpfs, initramfs or both, not '$requested'" ;;
esac

# What differs between the guest architectures. elf_machine is the e_machine of the guest's
# executables (EM_X86_64, EM_AARCH64): a binary of the other one is refused before it is copied.
case $arch in
x86_64 | amd64)
	arch=x86_64 deb_arch=amd64 elf_machine=62 elf_name=x86-64
	qemu=qemu-system-x86_64 qemu_package=qemu-system-x86 console=ttyS0
	qemu_machine=(-accel tcg -cpu max)
	rust_target=x86_64-unknown-linux-musl
	default_crab=$root/crab-can build_hint="make build"
	probe_file=build/probe # built below, as the integration tests build it (tests/helper/build.sh)
	label_prefix=''
	;;
aarch64 | arm64)
	arch=aarch64 deb_arch=arm64 elf_machine=183 elf_name=AArch64
	qemu=qemu-system-aarch64 qemu_package=qemu-system-arm console=ttyAMA0
	# pauth-impdef=on: QEMU's own pointer-authentication algorithm, about 4x faster under TCG than
	# the architected QARMA one of plain -cpu max.
	qemu_machine=(-machine virt -cpu max,pauth-impdef=on -accel tcg)
	rust_target=aarch64-unknown-linux-musl
	default_crab=$root/target/small/aarch64-unknown-linux-musl/release/crab-can build_hint="make build-arm64"
	probe_file=build/vm/aarch64/probe # cross-built below
	label_prefix='aarch64 '
	;;
*) die "--arch (or VM_ARCH) must be x86_64 or aarch64, not '$arch'" ;;
esac
crab=$(realpath -m -- "${CRAB_CAN:-$default_crab}")

cd "$root"
# Everything of one architecture (kernel, busybox, initramfs, logs) lives in build/vm/ARCH/.
vm=build/vm/$arch
mkdir -p "$vm"
# The x86_64 kernel used to be unpacked into build/vm/kernel/: keep it rather than download it again.
if [[ $arch == x86_64 && -d build/vm/kernel && ! -e $vm/kernel ]]; then
	mv build/vm/kernel "$vm/kernel"
	rm -f build/vm/*.log build/vm/*.cpio.gz
fi
script_timeout=${VM_SCRIPT_TIMEOUT:-180}
[[ $script_timeout =~ ^[1-9][0-9]*$ ]] || die "VM_SCRIPT_TIMEOUT must be a whole number of seconds"
[[ $(id -u) == 0 ]] || die "run me as root (I install packages and build device nodes)"

# ---- what the harness needs on this host -----------------------------------------------------------

apt_updated=
apt_update() {
	[[ -z $apt_updated ]] || return 0
	apt_updated=1
	say "apt-get update"
	apt-get update -q > "$vm/apt.log" 2>&1 || die "apt-get update failed (see $vm/apt.log)"
}

# need_packages PKG...: install the Debian packages that are not installed yet.
need_packages() {
	local missing=() p
	for p; do
		dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	say "installing ${missing[*]}"
	local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}")
	"${install[@]}" >> "$vm/apt.log" 2>&1 || { apt_update && "${install[@]}" >> "$vm/apt.log" 2>&1; } ||
		die "cannot install ${missing[*]} (see $vm/apt.log)"
}

# elf_machine_of FILE: the e_machine field of a 64-bit little-endian ELF file (62 x86-64, 183
# AArch64); nothing when FILE is not one.
elf_machine_of() {
	[[ $(od -An -tx1 -N6 "$1" | tr -d ' \n') == 7f454c460201 ]] || return 0
	od -An -tu2 -j18 -N2 "$1" | tr -d ' '
}

# has_interp FILE: FILE is an ELF executable that needs a dynamic loader (a PT_INTERP header).
has_interp() {
	local f=$1 phoff phentsize phnum i
	[[ $(od -An -tx1 -N4 "$f" | tr -d ' \n') == 7f454c46 ]] || return 1
	phoff=$(od -An -tu8 -j32 -N8 "$f" | tr -d ' ')
	phentsize=$(od -An -tu2 -j54 -N2 "$f" | tr -d ' ')
	phnum=$(od -An -tu2 -j56 -N2 "$f" | tr -d ' ')
	for ((i = 0; i < phnum; i++)); do
		[[ $(od -An -tu4 -j$((phoff + i * phentsize)) -N4 "$f" | tr -d ' ') == 3 ]] && return 0
	done
	return 1
}

# need_static WHAT FILE: FILE must exist, be an executable of the guest's architecture and run
# without a dynamic loader (the guest has none).
need_static() {
	[[ -f $2 && -x $2 ]] || die "$1 not found at $2"
	local m
	m=$(elf_machine_of "$2")
	case $m in
	"$elf_machine") ;;
	'') die "$1 at $2 is not a 64-bit little-endian ELF executable" ;;
	62) die "$1 at $2 is an x86-64 executable, not $elf_name: the $arch guest cannot run it" ;;
	183) die "$1 at $2 is an AArch64 executable, not $elf_name: the $arch guest cannot run it" ;;
	*) die "$1 at $2 is an executable for ELF machine $m, not $elf_name ($elf_machine)" ;;
	esac
	if has_interp "$2"; then
		die "$1 at $2 is dynamically linked; the guest has no libc: build it static ($build_hint)"
	fi
}

# The guest's architecture is not this machine's: Debian's packages of it can be downloaded (never
# installed) once dpkg knows the architecture.
native=
[[ $(dpkg --print-architecture) == "$deb_arch" ]] && native=1
need_foreign_arch() {
	[[ -z $native ]] || return 0
	dpkg --print-foreign-architectures | grep -qx "$deb_arch" && return 0
	say "dpkg --add-architecture $deb_arch (to download the $arch kernel and busybox)"
	dpkg --add-architecture "$deb_arch" || die "dpkg --add-architecture $deb_arch failed"
	apt_update
}

# The Debian kernel, downloaded once into build/vm/ARCH/kernel/ (boot/vmlinuz-*, lib/modules/*).
kernel_dir=$vm/kernel
kernel_meta=linux-image-$deb_arch
[[ -n $native ]] || kernel_meta=$kernel_meta:$deb_arch
find_kernel() { compgen -G "$kernel_dir/boot/vmlinuz-*" | head -n 1; }
kernel_package() {
	apt-cache depends "$kernel_meta" 2> /dev/null |
		awk -v a="$deb_arch" '$1 ~ /Depends:$/ && $2 ~ ("^linux-image-[0-9].*-" a "(:" a ")?$") { print $2; exit }'
}
# download PACKAGE DIR: apt-get download PACKAGE into DIR; PACKAGE "kernel" is the kernel package
# that linux-image-ARCH depends on, resolved now.
download() {
	local pkg=$1
	if [[ $pkg == kernel ]]; then
		pkg=$(kernel_package)
		[[ -n $pkg ]] || return 1
	fi
	say "downloading the package $pkg"
	(cd "$2" && apt-get download "$pkg") >> "$vm/apt.log" 2>&1
}
# fetch_deb PACKAGE DIR WHAT: download PACKAGE (as download takes it) and unpack it into DIR.
fetch_deb() {
	local tmp
	tmp=$(mktemp -d "$vm/deb.tmp.XXXXXX")
	chmod 755 "$tmp"
	# Stale or missing package lists: update them once and try again.
	download "$1" "$tmp" || { apt_update && download "$1" "$tmp"; } || {
		rm -rf "$tmp"
		die "cannot download $3 (see $vm/apt.log)"
	}
	dpkg-deb -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; die "cannot unpack $(basename "$tmp"/*.deb)"; }
	rm -rf "$2"
	mv "$tmp/x" "$2"
	rm -rf "$tmp"
}

need_packages "$qemu_package" busybox-static cpio gzip
# This machine's busybox checks the guest scripts' syntax; the guest gets busybox-static of its own
# architecture: this one when that is this machine's, else Debian's package unpacked into
# build/vm/ARCH/busybox/.
host_busybox=/bin/busybox
[[ -x $host_busybox ]] || die "no $host_busybox (busybox-static)"
if [[ -n $native ]]; then
	busybox=$host_busybox
else
	find_busybox() { compgen -G "$vm/busybox/bin/busybox" || compgen -G "$vm/busybox/usr/bin/busybox"; }
	busybox=$(find_busybox) || true
	if [[ -z $busybox ]]; then
		need_foreign_arch
		fetch_deb "busybox-static:$deb_arch" "$vm/busybox" "busybox-static:$deb_arch"
		busybox=$(find_busybox) || die "no bin/busybox in the package busybox-static:$deb_arch"
	fi
fi
need_static "busybox (busybox-static)" "$busybox"
need_static "crab-can (set CRAB_CAN, or run $build_hint)" "$crab"
probe=
# The test helper, built (for aarch64 cross-built; installs the compiler when missing; a no-op when
# up to date): the guest scripts use it (tmpfs-rootless.sh's `probe as`).
"$here/../helper/build.sh" "$root/$probe_file" "$arch" || die "cannot build the test helper $probe_file"
if [[ -e $probe_file ]]; then
	need_static "the test helper" "$probe_file"
	probe=$probe_file
fi

if [[ -n ${VM_KERNEL:-} ]]; then
	kernel=$(realpath -- "$VM_KERNEL") || die "VM_KERNEL=$VM_KERNEL not found"
else
	kernel=$(find_kernel) || true
	if [[ -z $kernel ]]; then
		need_foreign_arch
		fetch_deb kernel "$kernel_dir" "the package $kernel_meta depends on"
	fi
	kernel=$(find_kernel) || true
	[[ -n $kernel ]] || die "no vmlinuz in $kernel_dir/boot after unpacking the kernel package"
fi

# rust_tests SCRIPT...: the Rust integration tests (tests/NAME.rs) that the scripts ask for with a
# line "# rust-test: NAME", one name a line.
rust_tests() {
	sed -n 's/^# rust-test: *\([A-Za-z0-9_-]*\) *$/\1/p' "$@" | LC_ALL=C sort -u
}

# rust_test_binary NAME: the path of tests/NAME.rs compiled as `cargo test --release` compiles it (a
# static musl executable: for x86_64 the target of .cargo/config.toml, for aarch64 cross-built for
# aarch64-unknown-linux-musl and linked with rust-lld). Built with cargo when cargo is here (a no-op
# when `make test` just built it); without cargo, the newest one already built.
rust_test_binary() {
	local name=$1 exe= build
	build=("${CARGO:-cargo}" test --release --locked --test "$name" --no-run)
	if command -v "${CARGO:-cargo}" > /dev/null 2>&1; then
		if [[ $arch == x86_64 ]]; then
			say "building the Rust test binary $name (cargo test --release --no-run)"
		else
			rustup target list --installed 2> /dev/null | grep -qx "$rust_target" ||
				rustup target add "$rust_target" >> "$vm/cargo.log" 2>&1 ||
				die "cannot add the Rust target $rust_target (rustup target add $rust_target; see $vm/cargo.log)"
			build=(env RUSTFLAGS="-C target-feature=+crt-static -C linker=rust-lld -C linker-flavor=ld.lld"
				"${build[@]}" --target "$rust_target")
			say "building the Rust test binary $name for $arch (cargo test --release --target $rust_target --no-run)"
		fi
		exe=$("${build[@]}" --message-format=json-render-diagnostics 2>> "$vm/cargo.log" |
			grep -o "\"executable\":\"[^\"]*/deps/$name-[0-9a-f]*\"" | tail -n 1 | cut -d '"' -f 4) ||
			die "cannot build the Rust test $name for $arch (see $vm/cargo.log)"
	else
		exe=$(find "target/$rust_target/release/deps" -name "$name-*" -type f -perm -u+x ! -name '*.d' -printf '%T@ %p\n' 2> /dev/null |
			sort -n | tail -n 1 | cut -d ' ' -f 2-)
	fi
	[[ -n $exe ]] || die "no compiled Rust test $name for $arch (cargo test --release --target $rust_target --test $name --no-run)"
	need_static "the Rust test binary $name" "$exe"
	echo "$exe"
}

# ---- the initramfs -----------------------------------------------------------------------------

# add_busybox DIR: busybox at DIR/bin/busybox and a symlink for each applet. A busybox of another
# architecture cannot tell this machine its applets: it gets /bin/sh only, and the guest's /init
# links the rest (busybox --install -s) before it runs anything else.
add_busybox() {
	local dir=$1 applet
	mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin}
	cp "$busybox" "$dir/bin/busybox"
	if [[ -z $native ]]; then
		ln -s busybox "$dir/bin/sh"
		return
	fi
	for applet in $("$busybox" --list-full); do
		[[ -e $dir/$applet ]] || ln -s /bin/busybox "$dir/$applet"
	done
}

# add_modules DIR: the VM_MODULES and what they depend on, in load order, as DIR/NN-name.ko.
add_modules() {
	local dir=$1 m
	[[ -n ${VM_MODULES:-} ]] || return 0
	[[ -d $kernel_dir/lib/modules ]] || die "VM_MODULES needs the Debian kernel's modules in $kernel_dir"
	mkdir -p "$dir"
	local -A loaded=()
	local n=0
	add_module() {
		local name=${1//-/_} ko dep
		[[ -z ${loaded[$name]:-} ]] || return 0
		loaded[$name]=1
		ko=$(find "$kernel_dir"/lib/modules -name "$name.ko" -o -name "${name//_/-}.ko" | head -n 1)
		if [[ -z $ko ]]; then
			grep -qs "/${name//_/[_-]}.ko$" "$kernel_dir"/lib/modules/*/modules.builtin && return 0
			die "kernel module $name not found in $kernel_dir"
		fi
		for dep in $(tr '\0' '\n' < "$ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
			add_module "$dep"
		done
		n=$((n + 1))
		cp "$ko" "$dir/$(printf %02d "$n")-$name.ko"
	}
	for m in $VM_MODULES; do add_module "$m"; done
}

# build_initramfs MODE SCRIPT...: build/vm/MODE.cpio.gz
build_initramfs() {
	local mode=$1 stage=$vm/root-$1 s
	shift
	rm -rf "$stage"
	mkdir -p "$stage"/{dev,proc,sys,tmp,run,root,etc,images,tests/guest}
	chmod 1777 "$stage/tmp"
	mknod -m 600 "$stage/dev/console" c 5 1
	add_busybox "$stage"
	printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
	printf 'root:x:0:\n' > "$stage/etc/group"
	cp "$here/init" "$stage/init"
	chmod 755 "$stage/init"
	cp "$crab" "$stage/bin/crab-can"
	[[ -z $probe ]] || cp "$probe" "$stage/bin/probe"
	add_modules "$stage/lib/modules/vmtest"

	# The demo image the guest scripts run: /images/busybox.
	local img=$stage/images/busybox
	mkdir -p "$img"/{proc,dev,sys,tmp,etc,root,home/user}
	chmod 1777 "$img/tmp"
	add_busybox "$img"
	[[ -z $probe ]] || cp "$probe" "$img/bin/probe"
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' > "$img/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' > "$img/etc/group"
	chown 1000:1000 "$img/home/user"

	# The Rust test binaries the scripts ask for, as /tests/bin/NAME.
	local t exe
	for t in $(rust_tests "$@"); do
		exe=$(rust_test_binary "$t") || exit 2
		mkdir -p "$stage/tests/bin"
		cp "$exe" "$stage/tests/bin/$t"
	done

	cp "$here/lib.sh" "$stage/tests/lib.sh"
	: > "$stage/tests/list"
	for s; do
		cp "$s" "$stage/tests/guest/$(basename "$s")"
		basename "$s" .sh >> "$stage/tests/list"
	done
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) |
		gzip -1 > "$vm/$mode.cpio.gz"
	rm -rf "$stage"
}

# scripts_for MODE: the explicit scripts (with --mode both, those named MODE-* or neither mode),
# else tests/vm/guest/MODE-*.sh.
scripts_for() {
	local s base
	if ((${#scripts[@]})); then
		for s in "${scripts[@]}"; do
			base=$(basename "$s")
			if [[ $requested == both && ($base == tmpfs-* || $base == initramfs-*) && $base != "$1"-* ]]; then
				continue
			fi
			echo "$s"
		done
	else
		# Sorted, the smoke test first: when it fails, the rest is noise.
		compgen -G "$here/guest/$1-*.sh" | LC_ALL=C sort | awk '/-smoke\.sh$/ { print; next } { rest = rest $0 "\n" } END { printf "%s", rest }' || true
	fi
}

# ---- boot --------------------------------------------------------------------------------------

passed=0
failed=0
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# boot MODE: boot the VM once, print its results, add them to passed/failed. Its lines are labelled
# [MODE] (x86_64) or [aarch64 MODE].
boot() {
	local mode=$1 list=() s label=$label_prefix$1
	mapfile -t list < <(scripts_for "$mode")
	if ((${#list[@]} == 0)); then
		if ((${#scripts[@]})); then
			say "[$label] not booted: none of the scripts given is for this mode"
		else
			say "[$label] FAIL: no guest script matches $here/guest/$mode-*.sh"
			failed=$((failed + 1))
		fi
		return
	fi
	local runs=() only
	for s in "${list[@]}"; do
		[[ -f $s ]] || die "guest script $s not found"
		"$host_busybox" sh -n "$s" || die "guest script $s has a syntax error (busybox sh -n)"
		# A script with a line "# arch: ARCH..." runs in those guests only; elsewhere it is skipped, visibly.
		only=$(sed -n 's/^# arch: *//p' "$s" | head -n 1)
		if [[ -n $only && " $only " != *" $arch "* ]]; then
			say "[$label] SKIP $(basename "$s" .sh): for $only only (its '# arch:' line)"
		else
			runs+=("$s")
		fi
	done
	if ((${#runs[@]} == 0)); then
		say "[$label] not booted: every script is for another architecture"
		return
	fi
	list=("${runs[@]}")
	build_initramfs "$mode" "${list[@]}"

	local timeout=${VM_TIMEOUT:-$((90 + ${#list[@]} * script_timeout))}
	local log=$vm/$mode.log raw=$vm/$mode.log.raw
	say "[$label] booting $(basename "$kernel") with ${#list[@]} script(s) (bound ${timeout}s, log $log)"
	local t0 line status
	t0=$(now)
	set +e
	# KVM is deliberately not used (it hangs on these machines): TCG only.
	timeout -k 10 "$timeout" "$qemu" "${qemu_machine[@]}" -m "${VM_MEMORY:-1024}" \
		-smp "${VM_SMP:-2}" -nographic -no-reboot -nic none \
		-kernel "$kernel" -initrd "$vm/$mode.cpio.gz" \
		-append "console=$console quiet panic=-1 vmtest.mode=$mode vmtest.script_timeout=$script_timeout" \
		< /dev/null 2>&1 | tee "$raw" | while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		*"VMTEST START"*) say "[$label] guest up after $(secs "$t0" "$(now)")s: ${line##*VMTEST START }" ;;
		"VMTEST PASS "* | "VMTEST FAIL "* | "VMTEST SKIP "* | VMTEST-LOG*) printf '  [%s] %s\n' "$label" "${line#VMTEST }" ;;
		esac
	done
	status=${PIPESTATUS[0]}
	set -e
	# The serial log without carriage returns and the firmware's terminal escapes.
	sed 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' "$raw" > "$log"
	rm -f "$raw"
	say "[$label] VM ran $(secs "$t0" "$(now)")s"

	local p f
	p=$(grep -c '^VMTEST PASS ' "$log" || true)
	f=$(grep -c '^VMTEST FAIL ' "$log" || true)
	passed=$((passed + p))
	failed=$((failed + f))
	local broken=
	if ((status == 124 || status == 137)); then
		broken="the VM did not finish within ${timeout}s (timeout killed qemu)"
	elif ! grep -q '^VMTEST DONE' "$log"; then
		broken="VMTEST DONE never appeared (qemu exit status $status)"
	elif ((p + f == 0)); then
		broken="no test ran"
	fi
	if [[ -n $broken ]]; then
		failed=$((failed + 1))
		say "[$label] FAIL: $broken; the log ends with:"
		tail -n 25 "$log" | sed 's/^/    | /' >&2
	fi
	say "[$label] $p passed, $f failed"
}

t_all=$(now)
for m in "${modes[@]}"; do
	boot "$m"
done
say "all $arch boots took $(secs "$t_all" "$(now)")s"
echo "vm: ${label_prefix:+$arch: }$passed passed, $failed failed"
((failed == 0 && passed > 0))
