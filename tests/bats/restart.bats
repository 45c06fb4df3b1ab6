#!/usr/bin/env bats
# What must hold across daemon runs: node ids, clean shutdown.

load helpers

setup() {
	export RUN_TAG=rst$$
	suite_paths
}

teardown() {
	daemon_stop "$MNT" "$PIDF"
	kill_replace_worker
	local up
	up=$(cat "$PIDF.up" 2>/dev/null) || true # an upstream lxcfs a failed test left
	[ -z "$up" ] || [ "$(cat "/proc/$up/comm" 2>/dev/null)" != lxcfs ] || kill -KILL "$up"
	container_stop r1-$RUN_TAG 2>/dev/null || true
	container_stop r2-$RUN_TAG 2>/dev/null || true
	cg_remove lxcfs-test-$RUN_TAG-r 2>/dev/null || true
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

@test "two dead lxcfs mounts stacked at the mountpoint (a replacement before Linux 6.5 leaves one below): a start detaches both and serves" {
	local other=$BATS_RUN_TMPDIR/mnt2-$RUN_TAG a b
	daemon_start "$MNT" "$PIDF"
	daemon_start "$other" "$PIDF.2"
	mount --bind "$other" "$MNT" # the second over the first, as a stacked replacement is
	a=$(cat "$PIDF.started")
	b=$(cat "$PIDF.2.started")
	kill -KILL "$a" "$b"
	wait_until 30 gone "$a"
	wait_until 30 gone "$b"
	umount -l "$other"
	rm -f "$PIDF.2.started"
	[ "$(grep -c " $MNT fuse.lxcfs " /proc/self/mounts)" = 2 ]
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_log "another dead lxcfs mount below it"
	[ "$(grep -c " $MNT fuse.lxcfs " /proc/self/mounts)" = 1 ]
	timeout "$TMO" cat "$MNT/proc/meminfo" >/dev/null
}

@test "stderr on systemd's journal stream (\$JOURNAL_STREAM names it): each line carries its syslog priority" {
	local log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log js
	touch "$log"
	js=$(stat -c '%d:%i' "$log")
	JOURNAL_STREAM=$js "$LXCFS_BIN" --no-such-option "$MNT" 2>>"$log" || true
	grep -qx '<3>lxcfs: unknown option --no-such-option (lxcfs --help lists them)' "$log"
	JOURNAL_STREAM=$js daemon_start "$MNT" "$PIDF"
	grep -q '^<6>lxcfs\[[0-9]*\]: info: .* serving ' "$log"
	# another stream (the terminal, a pipe, a file of its own): no mark
	run "$LXCFS_BIN" --no-such-option "$MNT"
	[ "${output:0:1}" = l ]
}

@test "bad options and a missing mountpoint give clear errors" {
	run "$LXCFS_BIN" --no-such-option "$MNT"
	[ "$status" -eq 1 ]
	[ "$output" = "lxcfs: unknown option --no-such-option (lxcfs --help lists them)" ]
	run "$LXCFS_BIN" -p
	[ "$status" -eq 1 ]
	[ "$output" = "lxcfs: option -p needs an argument (lxcfs --help lists them)" ]
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

# (the worker a replacement leaves, if the test failed before a start adopted it)
kill_replace_worker() {
	local w
	w=$(grep -o "started worker [0-9]*" "$BATS_RUN_TMPDIR/replace-$RUN_TAG.log" 2>/dev/null | awk '{ print $3 }') || true
	[ -z "$w" ] || ! grep -q "^lxcfs-worker" "/proc/$w/cmdline" 2>/dev/null || kill -KILL "$w"
}

@test "--replace: a live upstream lxcfs is taken over while two containers read; none fails, the next start adopts ours" {
	[ -x /usr/bin/lxcfs ] || skip "Debian's lxcfs is not installed"
	local cg=lxcfs-test-$RUN_TAG-r c1=r1-$RUN_TAG c2=r2-$RUN_TAG rt=$BATS_RUN_TMPDIR/rt-$RUN_TAG old ours r
	mkdir -p "$rt"
	cg_make "$cg" $((256 * 1024 * 1024)) 0
	upstream_start "$MNT" "$PIDF" "$BATS_RUN_TMPDIR/upstream-$RUN_TAG.log"
	local up=$UPSTREAM
	old=$(stat -c '%Hd:%Ld' "$MNT")
	container_start "$c1" "$cg" "$MNT"
	container_start "$c2" "$cg" "$MNT"
	start_readers "$c1" 262144 2
	start_readers "$c2" 262144 2
	sleep 1
	run "$LXCFS_BIN" --replace -p "$PIDF" --runtime-dir "$rt" "$MNT"
	echo "$output" >"$BATS_RUN_TMPDIR/replace-$RUN_TAG.log"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	local said=$output
	run timeout 10 tail --pid="$up" -f /dev/null # SIGKILLed: it never unmounts what is ours now
	ours=$(stat -c '%Hd:%Ld' "$MNT")
	[ "$ours" != "$old" ]
	[ "$(awk '$5 == "/proc/meminfo" { print $3 }' "/proc/$(container_init "$c1")/mountinfo" | tail -1)" = "$ours" ]
	if [[ "$said" == *"no MOVE_MOUNT_BENEATH"* ]]; then
		echo "# stacked over the old mounts (no MOVE_MOUNT_BENEATH)" >&3
	else
		# replaced, not stacked: the old device is mounted nowhere
		refute grep -q " $old " "/proc/$(container_init "$c1")/mountinfo"
		refute grep -q " $old " /proc/self/mountinfo
	fi
	sleep 1
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_log "resuming .* from worker" 10 || true # which one, said next
	in_log "resuming $MNT from worker"
	sleep 1
	r=$(stop_readers 4)
	echo "# replaced under 4 readers: $r (reads, failed)" >&3
	[ "${r#* }" = 0 ]
	[ "${r% *}" -gt 20 ] # (the guest emulates its cpus: a few dozen reads there)
	kill_replace_worker
	container_stop "$c1"
	container_stop "$c2"
	cg_remove "$cg"
}

@test "--replace refuses what it cannot prove: no lxcfs there, a pidfile naming another program; nothing changes" {
	local rt=$BATS_RUN_TMPDIR/rt2-$RUN_TAG dev
	mkdir -p "$MNT" "$rt"
	run "$LXCFS_BIN" --replace -p "$PIDF" --runtime-dir "$rt" "$MNT"
	[ "$status" -eq 3 ]
	[[ "$output" == *"no lxcfs mount: nothing to replace"* ]]
	[ -x /usr/bin/lxcfs ] || skip "Debian's lxcfs is not installed"
	upstream_start "$MNT" "$PIDF.up"
	local up=$UPSTREAM
	dev=$(stat -c '%Hd:%Ld' "$MNT")
	sleep 60 3>&- &
	local other=$!
	echo "$other" >"$PIDF.other"
	run "$LXCFS_BIN" --replace -p "$PIDF.other" --runtime-dir "$rt" "$MNT"
	kill "$other"
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[[ "$output" == *"is sleep: not an lxcfs daemon; nothing done"* ]]
	run "$LXCFS_BIN" --replace -p "$BATS_RUN_TMPDIR/none.pid" --runtime-dir "$rt" "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no running daemon is named by"* ]]
	[ "$(stat -c '%Hd:%Ld' "$MNT")" = "$dev" ]
	kill -0 "$up"
	[ -z "$(ls "$rt")" ] # no staging directory, no log left behind
	kill -KILL "$up"
	umount -l "$MNT"
}
