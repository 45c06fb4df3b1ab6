#!/usr/bin/env bats
# What must hold across daemon runs: node ids, clean shutdown.

load helpers

setup() {
	export RUN_TAG=rst$$
	export MNT=$BATS_RUN_TMPDIR/mnt-$RUN_TAG
	export PIDF=$BATS_RUN_TMPDIR/$RUN_TAG.pid
}

teardown() {
	daemon_stop "$MNT" "$PIDF"
}

ids() {
	# inode numbers of every path (the cpu tree is the host's; depth keeps it quick)
	(cd "$MNT" && timeout 30 find . -maxdepth 6 -printf '%i %p\n' | sort -k2)
}

@test "node ids of every path are identical across two daemon runs" {
	daemon_start "$MNT" "$PIDF"
	ids >"$BATS_RUN_TMPDIR/ids1-$RUN_TAG"
	daemon_stop "$MNT" "$PIDF"
	daemon_start "$MNT" "$PIDF"
	ids >"$BATS_RUN_TMPDIR/ids2-$RUN_TAG"
	[ "$(wc -l <"$BATS_RUN_TMPDIR/ids1-$RUN_TAG")" -gt 50 ]
	diff "$BATS_RUN_TMPDIR/ids1-$RUN_TAG" "$BATS_RUN_TMPDIR/ids2-$RUN_TAG"
	grep -q '^4 ./proc/meminfo$' "$BATS_RUN_TMPDIR/ids1-$RUN_TAG"
}

@test "SIGTERM unmounts, removes the pidfile and exits 0" {
	daemon_start "$MNT" "$PIDF"
	local pid
	pid=$(cat "$PIDF.started")
	[ "$(cat "$PIDF")" = "$pid" ]
	kill -TERM "$pid"
	run timeout 10 tail --pid="$pid" -f /dev/null
	wait "$pid" || { echo "exit status $?"; false; }
	refute grep -q " $MNT fuse.lxcfs " /proc/self/mounts
	[ ! -e "$PIDF" ]
}

@test "bad options and a missing mountpoint give clear errors" {
	run "$LXCFS_BIN" -o bogus -p "$PIDF" "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown mount option 'bogus'"* ]]
	run "$LXCFS_BIN"
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing mountpoint"* ]]
	run "$LXCFS_BIN" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]+\.[0-9]+ ]]
}
