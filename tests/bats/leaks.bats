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
	suite_paths
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
	# lxcfs execs lxcfs-worker: valgrind must follow
	# (a log per process: the rebind pass it starts is checked too; forks without exec are not)
	LXCFS_WRAP="valgrind --trace-children=yes --child-silent-after-fork=yes --suppressions=$BATS_TEST_DIRNAME/../valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$VGLOG.%p" \
		LXCFS_START_WAIT=30 daemon_start "$MNT" "$PIDF" -l # the load average engine runs too
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
	cat "$VGLOG".* | grep -v '^--'
	[ "$rc" -eq 0 ]
	grep -q "ERROR SUMMARY: 0 errors" "$VGLOG.$pid"
	grep -q "Command: .*lxcfs-worker --standalone" "$VGLOG.$pid" # the worker is what was checked
	grep -q "Command: .*lxcfs-worker --rebind" "$VGLOG".*       # and the rebind pass
	refute grep -l "Invalid read\|Invalid write\|uninitialised\|definitely lost: [1-9]" "$VGLOG".*
}

@test "the keeper: no leak and no memory error across worker restarts" {
	[ -n "${LXCFS_VALGRIND:-}" ] || skip "set LXCFS_VALGRIND=1 to run"
	# the keeper and every worker it starts, a log each
	LXCFS_WRAP="valgrind --trace-children=yes --child-silent-after-fork=yes --suppressions=$BATS_TEST_DIRNAME/../valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$VGLOG.%p" \
		LXCFS_START_WAIT=30 daemon_start "$MNT" "$PIDF" --restart-on-crash -l
	WAIT_STEP=0.1 wait_until 30 status_field_set "$PIDF" worker_pid || true
	local i w g
	for i in $(seq 1 10); do
		for f in meminfo cpuinfo stat; do timeout 20 cat "$MNT/proc/$f" >/dev/null; done
		w=$(status_field "$PIDF" worker_pid)
		g=$(status_field "$PIDF" generation)
		kill -KILL "$w"
		wait_until 15 refute status_is "$PIDF" generation "$g" || true # the count of restarts says
		sleep 0.3
	done
	[ "$(status_field "$PIDF" restarts)" = 10 ]
	local pid last
	pid=$(cat "$PIDF.started")
	last=$(status_field "$PIDF" worker_pid)
	# let the last worker finish starting: under valgrind its engine takes seconds to load the
	# BPF program, and a worker still loading it when the keeper's 5 s stop deadline passes
	# is killed, which leaves its log without a summary
	WAIT_STEP=0.1 wait_until 120 in_log "lxcfs-worker\[$last\]: info: load averages:" || true
	kill -TERM "$pid"
	wait "$pid" && rc=0 || rc=$?
	cat "$VGLOG".* | grep -v '^--'
	[ "$rc" -eq 0 ]
	[ "$(ls "$VGLOG".* | wc -l)" -ge 12 ] # the keeper and 11 workers
	grep -q "ERROR SUMMARY: 0 errors" "$VGLOG.$pid"      # the keeper
	grep -q "ERROR SUMMARY: 0 errors" "$VGLOG.$last"     # the worker stopped cleanly at the end
	refute grep -l "Invalid read\|Invalid write\|uninitialised\|definitely lost: [1-9]" "$VGLOG".*
}
