#!/usr/bin/env bats
# Incus's per-instance lxcfs (instances.lxcfs.per_instance; incus.bash says what Incus does): five
# instances, each with its own LXC busybox container bound to it as Incus binds it, and a checking
# reader in every container.  Each instance is killed in turn: Incus's command line alone (a new
# start heals its container, and only its own), then with --restart-on-crash (no read fails).
# Incus's stop (SIGKILL, lazy unmount) must leave nothing behind.

load helpers
load incus

N=5

setup_file() {
	export RUN_TAG=inst$$
	export INCUS_DIR=$BATS_RUN_TMPDIR/incus-$RUN_TAG INCUS_SYS=$BATS_RUN_TMPDIR/sys-$RUN_TAG
	export INCUS_HOOKS=$BATS_RUN_TMPDIR/hooks-$RUN_TAG INCUS_LXCFS=$LXCFS_BIN
	export LXCPATH=$BATS_RUN_TMPDIR/lxc-$RUN_TAG SHARED=$BATS_RUN_TMPDIR/shared-$RUN_TAG
	mkdir -p "$INCUS_DIR" "$INCUS_SYS" "$LXCPATH" "$SHARED"
	incus_hooks "${LXCFS_BIN%/*}"
	printf '%s\n' "$INCUS_READER" >"$SHARED/reader.sh"
	local i
	incus_lxc_create "$LXCPATH" $(for i in $(seq 1 $N); do name "$i"; done)
	for i in $(seq 1 $N); do
		incus_lxc_setup "$LXCPATH" "$(name "$i")" $(((64 + i) << 20)) $((i % 2)) "$SHARED"
	done
}

teardown_file() {
	local i
	for i in $(seq 1 $N); do
		timeout 30 lxc-destroy -P "$LXCPATH" -n "$(name "$i")" >/dev/null 2>&1 || true
	done
	rm -rf "$LXCPATH" "$SHARED" "$INCUS_HOOKS" "$INCUS_DIR" "$INCUS_SYS"
}

teardown() {
	touch "$SHARED/stop"
	local i p n
	for n in $(lxc-ls -P "$LXCPATH" --running); do
		timeout 30 lxc-stop -P "$LXCPATH" -n "$n" -k >/dev/null 2>&1 || true
	done
	for i in $(seq 1 $N); do
		for p in $(incus_lxcfs_pids "$(name "$i")") $(cat "$(incus_run "$(name "$i")")/lxcfs.started" 2>/dev/null); do
			grep -q "$INCUS_DIR" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p"
		done
		umount -l "$(incus_mnt "$(name "$i")")" 2>/dev/null || true
	done
	p=$(cat "$BATS_RUN_TMPDIR/$RUN_TAG.keep" 2>/dev/null) && kill "$p" 2>/dev/null || true
	p=$(cat "$BATS_RUN_TMPDIR/$RUN_TAG.stopped" 2>/dev/null) && kill -CONT "$p" 2>/dev/null || true
	rm -f "$SHARED"/*.err "$SHARED"/*.ok "$SHARED/stop" "$BATS_RUN_TMPDIR/$RUN_TAG".{keep,stopped}
}

name() { echo "lxcfst-$RUN_TAG-$1"; }
mem_kb() { echo $(((64 + $1) * 1024)); }
init_of() { cat "$BATS_RUN_TMPDIR/$RUN_TAG-init.$1"; }
mounts_of() { lxcfs_mounts_of "$(init_of "$1")"; }
dev_of() { mount_dev_in self "$(incus_mnt "$(name "$1")")"; }

# up MODE_OPTS...: every instance started as Incus starts it, then its container.
up() {
	local i n
	incus_phase "$SHARED" 0
	for i in $(seq 1 $N); do
		n=$(name "$i")
		incus_lxcfs_start "$n" "$@"
		incus_lxcfs_wait "$n" # Incus does not wait (see incus.bash)
		timeout 60 lxc-start -P "$LXCPATH" -n "$n" -l INFO -o "$BATS_RUN_TMPDIR/$n.lxc.log"
	done
	for i in $(seq 1 $N); do
		n=$(name "$i")
		timeout 30 lxc-wait -P "$LXCPATH" -n "$n" -s RUNNING
		lxc-info -P "$LXCPATH" -n "$n" -p -H >"$BATS_RUN_TMPDIR/$RUN_TAG-init.$i"
		# every lxcfs mount in the container is its own instance's
		[ "$(mounts_of "$i" | wc -l)" -ge 5 ]
		[ -z "$(mounts_of "$i" | awk -v d="$(dev_of "$i")" '$2 != d')" ]
	done
	refute grep -q " $INCUS_SYS " /proc/self/mountinfo # the pre-mount binds stay in the containers
	for i in $(seq 1 $N); do
		lxc-attach -P "$LXCPATH" -n "$(name "$i")" -- sh /shared/reader.sh "$i" "$(mem_kb "$i")" 0.1 \
			</dev/null >/dev/null 2>&1 3>&- &
	done
	sleep 1
}

# all_on_dev I DEV: every lxcfs mount in container I is on DEV.
all_on_dev() { [ -z "$(mounts_of "$1" | awk -v d="$2" '$2 != d')" ]; }

# own_memtotal: each container reads its own MemTotal.
own_memtotal() {
	local i m
	for i in $(seq 1 $N); do
		m=$(timeout 15 lxc-attach -P "$LXCPATH" -n "$(name "$i")" -- timeout "$TMO" cat /proc/meminfo)
		[ "$(field_kb "$m" MemTotal)" = "$(mem_kb "$i")" ] || { echo "container $i: $(head -1 <<<"$m")" >&2; return 1; }
	done
}

# readers_done MIN: stops the readers; fails unless each read more than MIN times.  Leaves every
# failure as "CONTAINER PHASE_BEFORE PHASE_AFTER WHAT" in $BATS_RUN_TMPDIR/$RUN_TAG.failures.
readers_done() {
	local i
	touch "$SHARED/stop"
	for i in $(seq 1 $N); do
		WAIT_STEP=0.1 wait_until 20 test -e "$SHARED/$i.ok"
		echo "container $i: $(cat "$SHARED/$i.ok") good reads, $(cat "$SHARED/$i.err" 2>/dev/null | wc -l) failed" >&2
		[ "$(cat "$SHARED/$i.ok")" -gt "$1" ]
	done
	for i in $(seq 1 $N); do
		[ ! -e "$SHARED/$i.err" ] || awk -v c="$i" '{ print c, $0 }' "$SHARED/$i.err"
	done >"$BATS_RUN_TMPDIR/$RUN_TAG.failures"
}

all_ended() { local p; for p in "$@"; do ended "$p" || return 1; done; } # PID...

# incus_stop_all: containers stopped, then each instance as Incus stops it; nothing of ours may
# be left: no process, no mount.
incus_stop_all() {
	local i pids=() p left stops=()
	for i in $(seq 1 $N); do pids+=($(incus_lxcfs_pids "$(name "$i")")); done
	for i in $(seq 1 $N); do
		timeout 60 lxc-stop -P "$LXCPATH" -n "$(name "$i")" -k 3>&- &
		stops+=($!)
	done
	wait "${stops[@]}"
	for i in $(seq 1 $N); do incus_lxcfs_stop "$(name "$i")"; done
	wait_until 5 all_ended "${pids[@]}" || true # says how many are left
	left=0
	for p in "${pids[@]}"; do ended "$p" || left=$((left + 1)); done
	echo "processes left after Incus's stop: $left" >&2
	[ "$left" = 0 ]
	refute grep -q " $INCUS_DIR/.* fuse.lxcfs " /proc/self/mounts
}

@test "Incus's command line: each instance killed and started again heals its own container only; reads fail only in its own window" {
	up
	local k i n p before=() dev
	for k in $(seq 1 $N); do
		n=$(name "$k")
		for i in $(seq 1 $N); do before[i]=$(mounts_of "$i"); done
		incus_phase "$SHARED" $((2 * k - 1))
		p=$(cat "$(incus_pidfile "$n")")
		kill -KILL "$p"
		WAIT_STEP=0.01 wait_until 30 ended "$p"
		run nsenter -t "$(init_of "$k")" -m -- timeout "$TMO" cat /proc/meminfo
		[ "$status" -ne 0 ] # dead until something starts it again
		[[ "$output" == *"not connected"* ]]
		incus_lxcfs_start "$n"
		incus_lxcfs_wait "$n"
		dev=$(dev_of "$k")
		wait_until 10 all_on_dev "$k" "$dev" || true # checked below, after the phase
		incus_phase "$SHARED" $((2 * k))
		# its container: as many mounts as before, every one on the new device
		[ "$(mounts_of "$k" | wc -l)" = "$(wc -l <<<"${before[k]}")" ]
		[ -z "$(mounts_of "$k" | awk -v d="$dev" '$2 != d')" ]
		# every other container: the very same mounts (ids and devices)
		for i in $(seq 1 $N); do
			[ "$i" = "$k" ] || [ "$(mounts_of "$i")" = "${before[i]}" ]
		done
		wait_until 5 grep -q "$(ns_said "$(init_of "$k")")[0-9]* mount(s) rebound to .*/proc/meminfo" \
			"$(incus_run "$n")/lxcfs.log"
		# and it did not enter the other containers: their instances answer, nothing to heal there
		wait_until 5 grep -q "rebind: .* healed in .* namespace(s) with only other live instances' mounts not entered" \
			"$(incus_run "$n")/lxcfs.log" || true # the count below says
		[ "$(grep -o "[0-9]* namespace(s) with only other live" "$(incus_run "$n")/lxcfs.log" | tail -1 |
			cut -d' ' -f1)" -ge $((N - 1)) ]
	done
	own_memtotal # (and every reader checked its own MemTotal at every read)
	readers_done 20
	# failures happened, and only in the failing container's own window: from its instance's
	# kill until its start healed it
	local f=$BATS_RUN_TMPDIR/$RUN_TAG.failures
	cat "$f" >&2
	[ -s "$f" ]
	[ -z "$(awk '$2 != 2 * $1 - 1 && $3 != 2 * $1 - 1' "$f")" ]
	incus_stop_all
}

@test "with --restart-on-crash (LXCFS_OPTS): each instance's worker killed while every container reads: no failed read, no mount changed" {
	up --restart-on-crash
	local k i n w before=()
	for i in $(seq 1 $N); do before[i]=$(mounts_of "$i"); done
	for k in $(seq 1 $N); do
		n=$(name "$k")
		incus_phase "$SHARED" $((2 * k - 1))
		w=$(status_field "$(incus_pidfile "$n")" worker_pid)
		kill -KILL "$w"
		timeout 10 cat "$(incus_mnt "$n")/proc/uptime" >/dev/null # answered by the next worker
		incus_phase "$SHARED" $((2 * k))
		wait_until 5 refute status_is "$(incus_pidfile "$n")" worker_pid "$w"
		for i in $(seq 1 $N); do [ "$(mounts_of "$i")" = "${before[i]}" ]; done
	done
	own_memtotal
	readers_done 20
	cat "$BATS_RUN_TMPDIR/$RUN_TAG.failures" >&2
	[ ! -s "$BATS_RUN_TMPDIR/$RUN_TAG.failures" ]
	# Incus's stop kills the keeper: its worker, left alone, ends with the connection
	incus_stop_all
}

@test "with --restart-on-crash, Incus's stop while another namespace keeps a copy of the mount: the worker ends all the same, the next start mounts afresh" {
	local n mnt old_dev w keep i
	n=$(name 1)
	mnt=$(incus_mnt "$n")
	incus_lxcfs_start "$n" --restart-on-crash
	incus_lxcfs_wait "$n"
	old_dev=$(dev_of 1)
	w=$(status_field "$(incus_pidfile "$n")" worker_pid)
	# a namespace made with private propagation (unshare's default) keeps its copy after the
	# host detaches the mount, and with it the connection
	unshare --mount --propagation private sleep 60 3>&- &
	keep=$!
	echo "$keep" >"$BATS_RUN_TMPDIR/$RUN_TAG.keep"
	WAIT_STEP=0.02 wait_until 2 grep -q " $mnt " "/proc/$keep/mountinfo"
	incus_lxcfs_stop "$n"
	# the worker stops as a standalone daemon would at that SIGKILL: the copy is dead
	wait_until 5 ended "$w"
	grep -q "lxcfs-worker\[$w\]: .*our mount is not in its namespace any more" "$(incus_run "$n")/lxcfs.log"
	run nsenter -t "$keep" -m -- timeout "$TMO" cat "$mnt/proc/uptime"
	[ "$status" -ne 0 ]
	incus_lxcfs_start "$n" --restart-on-crash
	incus_lxcfs_wait "$n"
	[ "$(dev_of 1)" != "$old_dev" ]

	# the same stop, and a start before the worker could see it (stopped meanwhile): the start
	# does not take over a connection that is not mounted at its mountpoint
	old_dev=$(dev_of 1)
	w=$(status_field "$(incus_pidfile "$n")" worker_pid)
	kill "$keep"
	unshare --mount --propagation private sleep 60 3>&- &
	keep=$!
	echo "$keep" >"$BATS_RUN_TMPDIR/$RUN_TAG.keep"
	WAIT_STEP=0.02 wait_until 2 grep -q " $mnt " "/proc/$keep/mountinfo"
	echo "$w" >"$BATS_RUN_TMPDIR/$RUN_TAG.stopped"
	kill -STOP "$w"
	incus_lxcfs_stop "$n"
	incus_lxcfs_start "$n" --restart-on-crash
	incus_lxcfs_wait "$n"
	[ "$(dev_of 1)" != "$old_dev" ]
	grep -q "worker $w serves a connection of $mnt that is not mounted there any more" "$(incus_run "$n")/lxcfs.log"
	kill -CONT "$w"
	wait_until 5 ended "$w"
	incus_lxcfs_stop "$n"
}
