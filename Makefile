# crab-can — build, demo, test, bench. Run as root on Debian/Ubuntu.
TARGET   := x86_64-unknown-linux-musl
CARGO    ?= cargo
DEMO     := build/demo-image
# The release binary: std rebuilt for size (its optimize_for_size feature) with
# panic=immediate-abort (README, "Size").
# These are unstable options of the stable compiler, enabled
# with RUSTC_BOOTSTRAP=1; `make build-stable` builds without them.
SMALL_DIR   := target/small
# Both architectures link with the toolchain's rust-lld, which packs the segments without
# padding to a page and folds identical functions (--icf=all); LLVM's machine outliner
# shares repeated instruction sequences (README, "Size").
SIZE_FLAGS  := -C llvm-args=--inline-threshold=0 -C linker=rust-lld -C linker-flavor=ld.lld -C link-arg=-znoseparate-code -C link-arg=-znorelro \
               -C link-arg=--icf=all -C llvm-args=-enable-machine-outliner=always
SMALL_FLAGS := -C target-feature=+crt-static -C relocation-model=static -Zunstable-options -Cpanic=immediate-abort \
               -C force-unwind-tables=no $(SIZE_FLAGS)
BIN         := $(SMALL_DIR)/$(TARGET)/release/crab-can
STABLE_BIN  := target/$(TARGET)/release/crab-can

# Release binaries for both architectures, cross-built from any x86_64 machine: the aarch64
# one links with the Rust toolchain's own rust-lld (no cross gcc needed).
VERSION     := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ARM_TARGET  := aarch64-unknown-linux-musl
ARM_FLAGS   := -C target-feature=+crt-static -C relocation-model=static -Zunstable-options -Cpanic=immediate-abort \
               -C force-unwind-tables=no $(SIZE_FLAGS)
ARM_BIN     := $(SMALL_DIR)/$(ARM_TARGET)/release/crab-can
DIST        := dist
# The size budget of each release binary (issue "aarch64"): 300 KB.
MAX_BYTES   := 300000

.PHONY: all build build-arm64 build-stable deps-rust deps-test demo test vm-test vm-test-arm64 vm-demo bench clean fmt lint release

all: build

build: deps-rust
	RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(SMALL_FLAGS)" $(CARGO) build --release --locked \
		-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size --target-dir $(SMALL_DIR)
	cp --remove-destination $(BIN) ./crab-can

# The aarch64 binary (static, musl), for the aarch64 VM tests and the release.
build-arm64: deps-rust
	@rustup target list --installed 2>/dev/null | grep -qx $(ARM_TARGET) || rustup target add $(ARM_TARGET)
	RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(ARM_FLAGS)" $(CARGO) build --release --locked --target $(ARM_TARGET) \
		-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size --target-dir $(SMALL_DIR)

# dist/crab-can-VERSION-{x86_64,aarch64} and dist/SHA256SUMS; each checked to be a static
# executable of its architecture within the size budget.
release: build build-arm64
	rm -rf $(DIST) && mkdir -p $(DIST)
	cp $(BIN) $(DIST)/crab-can-$(VERSION)-x86_64
	cp $(ARM_BIN) $(DIST)/crab-can-$(VERSION)-aarch64
	@for a in x86_64:x86-64 aarch64:aarch64; do \
	  f=$(DIST)/crab-can-$(VERSION)-$${a%%:*}; d=$$(file -b $$f); \
	  case "$$d" in *"$${a#*:}"*"statically linked"*) ;; *) echo "release: $$f: $$d" >&2; exit 1;; esac; \
	  n=$$(stat -c %s $$f); [ $$n -le $(MAX_BYTES) ] || { echo "release: $$f is $$n bytes, over $(MAX_BYTES)" >&2; exit 1; }; \
	  echo "release: $$f: $$n bytes; $$d"; \
	done
	cd $(DIST) && sha256sum crab-can-$(VERSION)-x86_64 crab-can-$(VERSION)-aarch64 > SHA256SUMS && cat SHA256SUMS

build-stable: deps-rust
	$(CARGO) build --release --locked
	cp --remove-destination $(STABLE_BIN) ./crab-can

deps-rust:
	@rustup target list --installed 2>/dev/null | grep -qx $(TARGET) || rustup target add $(TARGET)
	@rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src

# Debian packages the tests need (installed only when missing).
deps-test:
	@tests/deps.sh

$(DEMO): | deps-test
	tests/mkimage.sh $(DEMO)

# Build everything, make a busybox demo image, drop into a shell inside it.
demo: build $(DEMO)
	./crab-can run --hostname demo $(DEMO) /bin/sh

# Every test: unit tests, integration tests on this host, and the cgroup v2 / initramfs VM, booted
# for x86_64 and then for aarch64 (the aarch64 binary in an emulated arm64 guest; tests/vm/README.md).
test: build build-arm64 deps-test
	$(CARGO) test --release --locked --bins
	CRAB_CAN=$(CURDIR)/crab-can $(CARGO) test --release --locked --test '*' -- --test-threads=2
	tests/vm/run.sh
	CRAB_CAN=$(CURDIR)/$(ARM_BIN) tests/vm/run.sh --arch aarch64

vm-test: build deps-test
	tests/vm/run.sh

# The same VM tests in an aarch64 guest (qemu-system-aarch64, software emulation), for $(ARM_BIN).
vm-test-arm64: build-arm64 deps-test
	CRAB_CAN=$(CURDIR)/$(ARM_BIN) tests/vm/run.sh --arch aarch64

# Embedding recipe: an initramfs with ./crab-can, busybox and a demo image, booted with the
# distribution's kernel under qemu; a container runs at boot and shows its isolation.
vm-demo: build deps-test
	tests/vm/run.sh --mode initramfs tests/vm/demo/initramfs-demo.sh

bench: build
	bench/run.sh

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) clippy --release --all-targets -- -D warnings -W clippy::undocumented_unsafe_blocks

clean:
	rm -rf target build crab-can $(DIST)
