# crab-can — build, demo, test, bench. Run as root on Debian/Ubuntu.
TARGET   := x86_64-unknown-linux-musl
CARGO    ?= cargo
DEMO     := build/demo-image
# The release binary: std rebuilt for size with panic=immediate-abort (README, "Size").
# These are unstable options of the stable compiler, enabled
# with RUSTC_BOOTSTRAP=1; `make build-stable` builds without them.
SMALL_DIR   := target/small
SMALL_FLAGS := -C target-feature=+crt-static -C relocation-model=static -Zunstable-options -Cpanic=immediate-abort \
               -C force-unwind-tables=no -C link-arg=-Wl,-z,noseparate-code
BIN         := $(SMALL_DIR)/$(TARGET)/release/crab-can
STABLE_BIN  := target/$(TARGET)/release/crab-can

.PHONY: all build build-stable deps-rust deps-test demo test vm-test vm-demo bench clean fmt lint

all: build

build: deps-rust
	RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(SMALL_FLAGS)" $(CARGO) build --release --locked \
		-Z build-std=std,panic_abort --target-dir $(SMALL_DIR)
	cp --remove-destination $(BIN) ./crab-can

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

# Every test: unit tests, integration tests on this host, and the cgroup v2 / initramfs VM.
test: build deps-test
	$(CARGO) test --release --locked --bins
	CRAB_CAN=$(CURDIR)/crab-can $(CARGO) test --release --locked --test '*' -- --test-threads=2
	tests/vm/run.sh

vm-test: build deps-test
	tests/vm/run.sh

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
	rm -rf target build crab-can
