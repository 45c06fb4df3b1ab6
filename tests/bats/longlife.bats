#!/usr/bin/env bats
# What a long life must not accumulate: renders kept for open files (shared snapshot entries and
# the worker's memory) are all given back once the files are closed, whatever the threads did in
# between; what a lost release left behind is reclaimed.

load helpers

# The 8 readers' rounds (each five reads): the sanitized pass of the test command runs fewer, its
# cost being the readers' processes, not the daemon.
ROUNDS=${LXCFS_HAMMER_ROUNDS:-150}

setup_file() {
	export RUN_TAG=longlife$$
}

setup() {
	test_paths
}

teardown() {
	exec 8<&- || true
	daemon_stop "$MNT" "$PIDF"
}

# status VAR: a field of `lxcfs --status` (which asks the keeper for the counts of this moment).
status() { status_now "$PIDF" "$1"; }

# given_back VAR VALUE: VAR reaches VALUE within 5 s.  A close's RELEASE is asynchronous (the
# kernel sends it and does not wait), so the count may lag the close under load; a leak stays.
given_back() {
	wait_until 5 status_now_is "$PIDF" "$1" "$2" || { echo "$1 stayed at $(status "$1")" >&2; return 1; }
}

# hammer N: 8 readers, N rounds each of whole-file reads and small-buffer reads (each file in
# several READs) of the four busiest files; prints the failed reads.
hammer() {
	local n=$1 i dir=$BATS_RUN_TMPDIR/hammer-$RUN_TAG
	mkdir -p "$dir"
	for i in 1 2 3 4 5 6 7 8; do
		(
			bad=0
			for _ in $(seq 1 "$n"); do
				for f in meminfo cpuinfo stat uptime; do
					timeout "$TMO" cat "$MNT/proc/$f" >/dev/null || bad=$((bad + 1))
				done
				timeout "$TMO" dd if="$MNT/proc/meminfo" bs=300 status=none of=/dev/null || bad=$((bad + 1))
			done
			echo "$bad" >"$dir/$i"
		) &
	done
	wait
	cat "$dir"/* | awk '{ s += $1 } END { print s + 0 }'
	rm -rf "$dir"
}

@test "after 8 readers stop, no snapshot entry and no kept render is left in use" {
	keeper_start
	[ "$(status snapshots_in_use)" = "0/1024" ]
	[ "$(hammer "$ROUNDS")" = 0 ]
	echo "in use after the readers: $(status snapshots_in_use) entries, $(status kept_renders) kept" >&2
	given_back snapshots_in_use 0/1024
	given_back kept_renders 0
}

@test "a slow keep cannot lose a render: what the next READ and the RELEASE need is there before the reply" {
	# Keeping a render takes 20 ms here; four threads, so the next READ and the RELEASE of
	# each open can run beside it.  Kept after the reply, every open would leave its render.
	keeper_start LXCFS_FAULT_SLEEP=keep:20 --threads=4
	[ "$(hammer 5)" = 0 ]
	echo "in use after the readers: $(status snapshots_in_use) entries, $(status kept_renders) kept" >&2
	given_back snapshots_in_use 0/1024
	given_back kept_renders 0
}

@test "a file half read keeps its render across a worker kill, and gives it back on close" {
	keeper_start
	exec 8<"$MNT/proc/meminfo"
	local head rest whole
	head=$(timeout "$TMO" dd bs=100 count=1 status=none <&8)
	echo "after the head: $(status snapshots_in_use)" >&2
	[ "$(status snapshots_in_use)" = "1/1024" ]
	local w
	w=$(status_field "$PIDF" worker_pid)
	kill -KILL "$w"
	wait_worker "$PIDF" "$w"
	rest=$(timeout "$TMO" cat <&8)
	whole="$head$rest"
	# one render: every field once, MemTotal first, no line cut in two
	[ "$(grep -c '^MemTotal:' <<<"$whole")" = 1 ]
	[ "$(grep -c '^MemFree:' <<<"$whole")" = 1 ]
	refute grep -vqE '^[A-Za-z0-9_()]+: +[0-9]+( kB)?$' <<<"$whole"
	exec 8<&-
	given_back snapshots_in_use 0/1024
}

@test "a render untouched for the idle time is reclaimed by the next worker, and the log says so" {
	keeper_start LXCFS_FAULT_SNAP_IDLE=1
	exec 8<"$MNT/proc/meminfo"
	timeout "$TMO" dd bs=100 count=1 status=none <&8 >/dev/null
	[ "$(status snapshots_in_use)" = "1/1024" ]
	sleep 2
	local w
	w=$(status_field "$PIDF" worker_pid)
	kill -KILL "$w"
	wait_worker "$PIDF" "$w"
	# the next worker sweeps once it has served a quiet moment (50 ms), not at once
	wait_log "reclaimed 1 snapshot entries" 5
	[ "$(status snapshots_in_use)" = "0/1024" ]
	# its reader is not failed: the rest of the file comes from a new render
	timeout "$TMO" cat <&8 >/dev/null
	exec 8<&-
}

churn_container() { # N: a cgroup and a pid namespace that read the files, then are gone
	local cg=lxcfs-test-$RUN_TAG-c$1
	cg_make "$cg" $(((64 + $1) * 1024 * 1024)) 0
	container_start c-$RUN_TAG "$cg" "$MNT"
	in_container c-$RUN_TAG cat /proc/meminfo /proc/stat /proc/cpuinfo /proc/uptime >/dev/null
	container_stop c-$RUN_TAG
	cg_remove "$cg"
}

@test "40 short-lived containers: the worker's fds do not grow with them" {
	keeper_start
	local w before after i
	w=$(status_field "$PIDF" worker_pid)
	churn_container 0
	before=$(ls /proc/"$w"/fd | wc -l)
	for i in $(seq 1 40); do churn_container "$i"; done
	after=$(ls /proc/"$w"/fd | wc -l)
	echo "worker fds: $before after one container, $after after 40 more" >&2
	# each container's namespace fd and cgroup files go with it (checked at the next start)
	[ "$after" -lt $((before + 30)) ]
}

@test "under a low fd limit, 30 live containers each read their own values and none fails" {
	local i cg ok=0
	(
		ulimit -n 128 # soft and hard: the worker cannot raise it
		keeper_start
	)
	for i in $(seq 1 30); do
		cg=lxcfs-test-$RUN_TAG-l$i
		cg_make "$cg" $(((64 + i) * 1024 * 1024)) 0
		container_start l$i-$RUN_TAG "$cg" "$MNT"
	done
	for round in 1 2; do
		for i in $(seq 1 30); do
			in_container l$i-$RUN_TAG cat /proc/stat /proc/cpuinfo /proc/uptime >/dev/null &&
				[ "$(memtotal l$i-$RUN_TAG)" = $(((64 + i) * 1024)) ] && ok=$((ok + 1))
		done
	done
	for i in $(seq 1 30); do
		container_stop l$i-$RUN_TAG
		cg_remove lxcfs-test-$RUN_TAG-l$i
	done
	echo "containers reading right: $ok of 60" >&2
	[ "$ok" = 60 ]
	grep -q "fd limit 128: at most" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}
