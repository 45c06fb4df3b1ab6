#!/usr/bin/env bats
# The long-running paths under valgrind: thousands of renders for containers and the host, walks
# of the cpu tree, opens left to the kernel's release; then a clean stop must report no leak and
# no memory error.  Slow, so only when asked (scripts/test sets LXCFS_VALGRIND=1).

load helpers

setup_file() {
	if [ -z "${LXCFS_VALGRIND:-}" ]; then
		return 0
	fi
	export RUN_TAG=vg$$
	export MNT=$BATS_RUN_TMPDIR/mnt-$RUN_TAG
	export PIDF=$BATS_RUN_TMPDIR/$RUN_TAG.pid
	export CG=lxcfs-test-$RUN_TAG
	export VGLOG=$BATS_RUN_TMPDIR/valgrind-$RUN_TAG.log
	cg_make "$CG" $((256 * 1024 * 1024)) 0
}

teardown_file() {
	if [ -z "${LXCFS_VALGRIND:-}" ]; then
		return 0
	fi
	container_stop vg-$RUN_TAG
	daemon_stop "$MNT" "$PIDF"
	cg_remove "$CG"
}

@test "no leak and no memory error after a long run" {
	[ -n "${LXCFS_VALGRIND:-}" ] || skip "set LXCFS_VALGRIND=1 to run"
	# started here, not in setup_file, so that this shell can wait for its exit status
	LXCFS_WRAP="valgrind --suppressions=$BATS_TEST_DIRNAME/../valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$VGLOG" \
		LXCFS_START_TRIES=600 daemon_start "$MNT" "$PIDF"
	container_start vg-$RUN_TAG "$CG" "$MNT"
	local i f
	for i in $(seq 1 40); do
		for f in meminfo cpuinfo stat uptime swaps diskstats loadavg slabinfo; do
			in_container vg-$RUN_TAG cat /proc/$f >/dev/null
			timeout 20 cat "$MNT/proc/$f" >/dev/null
		done
		in_container vg-$RUN_TAG cat /sys/devices/system/cpu/online >/dev/null
	done
	timeout 60 find "$MNT/sys" -maxdepth 5 -type f -readable -name 'core_id' -exec cat {} + >/dev/null
	# an open that lives across many reads, read in small pieces
	in_container vg-$RUN_TAG sh -c 'dd if=/proc/meminfo bs=5 2>/dev/null | grep -c kB' >/dev/null
	local pid
	pid=$(cat "$PIDF.started")
	kill -TERM "$pid"
	run timeout 60 tail --pid="$pid" -f /dev/null
	wait "$pid" && rc=0 || rc=$?
	grep -v '^--' "$VGLOG"
	[ "$rc" -eq 0 ]
	grep -q "ERROR SUMMARY: 0 errors" "$VGLOG"
}
