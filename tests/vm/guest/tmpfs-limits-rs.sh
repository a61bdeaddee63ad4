# The Rust integration tests of tests/limits.rs (--memory, --cpus, --pids, --cgroup-parent) on a
# pure cgroup v2 host: run.sh copies their compiled binary (static musl) to /tests/bin/limits; it
# runs here against /bin/crab-can and the demo image, strictly (a skip is a failure), and each of
# its tests is one result.
# rust-test: limits
. /tests/lib.sh

bin=/tests/bin/limits
# The binary's own time bound (the script's is 180 s by default).
bound=${VMTEST_RUST_TIMEOUT:-150}
if [ ! -x "$bin" ]; then
	fail limits-binary "$bin is not in the initramfs (run.sh builds it: cargo test --release --test limits --no-run)"
else
	out=$VMTEST_TMP/limits.out
	err=$VMTEST_TMP/limits.err
	read -r t0 _ < /proc/uptime
	CRAB_CAN=$CRAB CRAB_CAN_TEST_IMAGE=$IMG CRAB_CAN_STRICT=1 RUST_BACKTRACE=0 TMPDIR=/tmp \
		timeout -s KILL "$bound" "$bin" --test-threads=1 > "$out" 2> "$err" < /dev/null
	status=$?
	read -r t1 _ < /proc/uptime
	echo "vmtest: $bin exited $status after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s"
	# One result per test: "test NAME ... ok" passes; anything else fails with the panic that the
	# harness prints under "---- NAME stdout ----".
	grep -E '^test [A-Za-z0-9_:]+ \.\.\. ' "$out" > "$VMTEST_TMP/limits.results"
	n=0
	while read -r _ name _ result; do
		n=$((n + 1))
		if [ "$result" = ok ]; then
			pass "limits/$name"
		else
			fail "limits/$name" "$result" \
				"$(awk -v h="---- $name stdout ----" '$0 == h { p = 1; next } p && /^(---- |failures:$)/ { exit } p' "$out")"
		fi
	done < "$VMTEST_TMP/limits.results"
	[ "$n" -gt 0 ] || fail limits-ran "no test result in the output of $bin" "$(tail -n 20 "$out" "$err")"
	if [ "$status" -eq 0 ]; then
		pass limits-exit-0
	else
		why="$bin exited $status"
		[ "$status" -ne 137 ] || why="$why (killed: its time bound is ${bound}s)"
		fail limits-exit-0 "$why" \
			"$(tail -n 10 "$out"; tail -n 10 "$err")"
	fi
fi
