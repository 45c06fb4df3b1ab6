#!/usr/bin/env bats
# --restart-on-crash on a stock kernel: workers killed, crashing, upgraded, while containers read.
# Every read is checked for its container's values; not one may fail.

load helpers

LXCFS_BIN_NEXT=${LXCFS_BIN_NEXT:-$BATS_TEST_DIRNAME/../../build-next/lxcfs}
LXCFS_BIN_SV2=${LXCFS_BIN_SV2:-$BATS_TEST_DIRNAME/../../build-sv2/lxcfs}

setup_file() {
	export RUN_TAG=crash$$
	export CGA=lxcfs-test-$RUN_TAG-a CGB=lxcfs-test-$RUN_TAG-b
	cg_make "$CGA" $((256 * 1024 * 1024)) 0
	cg_make "$CGB" $((192 * 1024 * 1024)) 1
	# the daemon runs from a directory of its own, so upgrades can swap its binaries
	export BIN=$BATS_RUN_TMPDIR/bin-$RUN_TAG
	mkdir -p "$BIN"
	cp "$LXCFS_BIN" "$(dirname "$LXCFS_BIN")/lxcfs-worker" "$BIN/"
	grep -q LXCFS_FAULT_CRASH "$BIN/lxcfs-worker" ||
		{ echo "build without fault hooks: meson setup -Dfault_hooks=true" >&2; return 1; }
}

teardown_file() {
	cg_remove "$CGA"
	cg_remove "$CGB"
}

setup() {
	test_paths
	cp "$LXCFS_BIN" "$(dirname "$LXCFS_BIN")/lxcfs-worker" "$BIN/"
}

teardown() {
	rm -f "$BATS_RUN_TMPDIR/stop-$RUN_TAG"
	container_stop a-$RUN_TAG
	container_stop b-$RUN_TAG
	daemon_stop "$MNT" "$PIDF"
}

# the keeper runs from $BIN; arguments as helpers' keeper_start
bin_keeper_start() { keeper_start LXCFS_BIN="$BIN/lxcfs" "$@"; }

# The soaks' counts: 50 each; the TCG guest runs fewer (scripts/test).
KILLS=${LXCFS_KILLS:-50} UPGRADES=${LXCFS_UPGRADES:-50} POISONS=${LXCFS_POISONS:-20}

containers() {
	container_start a-$RUN_TAG "$CGA" "$MNT"
	container_start b-$RUN_TAG "$CGB" "$MNT"
}

@test "$KILLS SIGKILLs of the worker under four readers in two containers: no failed read; no journal slot left to the dead" {
	local slots cpus
	bin_keeper_start
	containers
	# one slot per request thread (one per cpu, 2 to 8), counted idle: under readers a READ handed
	# to the thread rendering early for its open holds one more for a moment (a TCG guest once
	# counted it here)
	cpus=$(getconf _NPROCESSORS_ONLN)
	slots="$((cpus < 2 ? 2 : cpus > 8 ? 8 : cpus))/$(status_now "$PIDF" journal_slots_in_use | cut -d/ -f2)"
	wait_until 5 status_now_is "$PIDF" journal_slots_in_use "$slots"
	start_readers a-$RUN_TAG 262144 2
	start_readers b-$RUN_TAG 196608 2
	sleep 0.5
	kill_workers "$KILLS"
	sleep 0.3
	read -r reads failures < <(stop_readers 4)
	echo "reads=$reads failures=$failures journal slots before $slots, after $(status_now "$PIDF" journal_slots_in_use) ($(status_now "$PIDF" journal_slots_dead) dead)"
	[ "$failures" -eq 0 ]
	[ "$reads" -gt $((KILLS * 4)) ]
	[ "$(status_field "$PIDF" restarts)" -ge "$KILLS" ]
	[[ "$(status_field "$PIDF" last_death)" == *"killed by signal 9"* ]]
	# the dead workers' slots were answered and freed (a recovery waits 2 s for resent requests)
	wait_until 5 status_now_is "$PIDF" journal_slots_dead 0
	wait_until 5 status_now_is "$PIDF" journal_slots_in_use "$slots"
}

@test "the keeper killed alone: its worker serves on, the next start takes the connection over from it" {
	bin_keeper_start
	containers
	start_readers a-$RUN_TAG 262144 2
	start_readers b-$RUN_TAG 196608 2
	sleep 0.5
	local keeper w
	keeper=$(cat "$PIDF.started")
	w=$(status_field "$PIDF" worker_pid)
	kill -KILL "$keeper"
	wait_until 30 gone "$keeper"
	sleep 0.5 # served by the orphan alone meanwhile
	kill -0 "$w"
	bin_keeper_start
	grep -q "resuming $MNT from worker $w, whose keeper is gone" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	ended "$w" # stopped by the new keeper; nobody may have reaped it yet
	# on its SIGTERM, answering what it held, not killed
	grep -q "lxcfs-worker\[$w\]: .*generation 1 stops" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	[ "$(status_field "$PIDF" generation)" = 2 ]
	sleep 0.5
	stop_readers_ok 4 20 # the VM (TCG) reads slowly
	[ "$(grep -c " $MNT fuse" /proc/self/mounts)" = 1 ]
}

@test "a file opened before a kill, and one half read, are read correctly after it" {
	bin_keeper_start
	containers
	local d=$BATS_RUN_TMPDIR/open-$RUN_TAG
	mkdir -p "$d"
	nsenter -t "$(container_init a-$RUN_TAG)" -p -m -- sh -c '
		exec 3</proc/meminfo 4</proc/cpuinfo
		head -c 200 <&4 >"$1/part1"
		touch "$1/opened"
		while [ ! -e "$1/killed" ]; do sleep 0.05; done
		timeout 10 cat <&3 >"$1/meminfo"
		timeout 10 cat <&4 >"$1/part2"' sh "$d" &
	local reader=$!
	wait_until 5 test -e "$d/opened"
	kill_worker KILL
	kill_worker KILL
	touch "$d/killed"
	wait "$reader"
	[ "$(field_kb "$(cat "$d/meminfo")" MemTotal)" = 262144 ]
	[ "$(grep -c kB "$d/meminfo")" -gt 20 ]
	# the half read open continues the render of its offset 0, made by a dead worker
	cat "$d/part1" "$d/part2" >"$d/cpuinfo"
	[ "$(grep -c '^processor' "$d/cpuinfo")" = 1 ]
	[ "$(tail -c 1 "$d/cpuinfo" | od -An -c | tr -d ' ')" = '\n' ]
	[ "$(grep -c '^flags' "$d/cpuinfo")" = 1 ]
}

none_running() { # PID...: every one has ended
	local p
	for p in "$@"; do ! kill -0 "$p" 2>/dev/null || return 1; done
}
renders() { grep -c "render of meminfo sleeps" "$1" || true; } # LOG: how many renders slept
more_renders() { [ "$(renders "$1")" -gt "$2" ]; }               # LOG N: more than N

inflight() { # recovery mode, log line that proves the path
	bin_keeper_start LXCFS_RECOVERY="$1" LXCFS_FAULT_SLEEP=meminfo:1500
	containers
	local out=$BATS_RUN_TMPDIR/inflight-$RUN_TAG log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log n
	n=$(renders "$log")
	nsenter -t "$(container_init a-$RUN_TAG)" -p -m -- timeout 20 cat /proc/meminfo >"$out" &
	local reader=$!
	# the render says so, then sleeps 1.5 s: from that line on the read is inside the worker (a
	# fixed wait was too short on a slow guest: nsenter, timeout and cat start first)
	wait_until 10 more_renders "$log" "$n"
	kill_worker KILL
	wait "$reader"
	[ "$(field_kb "$(cat "$out")" MemTotal)" = 262144 ]
	grep -q "$2" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}

@test "a read inside the worker at the kill completes after takeover: journal" {
	inflight journal "answering request .* (opcode 15) of a dead worker from the journal"
}

@test "a read inside the worker at the kill completes after takeover: RESEND" {
	if [ "$(uname -r | awk -F. '{ print ($1 * 100 + $2 >= 609) }')" = 0 ]; then
		skip "this kernel ($(uname -r)) has no FUSE_NOTIFY_RESEND (Linux >= 6.9); the journal carries resume"
	fi
	inflight resend "asked the kernel to resend unanswered requests"
	[[ "$(status_field "$PIDF" recovery)" == *"resend=yes"* ]]
	refute grep -q "from the journal" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}

# many_reads_through_kill N K: N host reads of meminfo at once, the worker killed once more than
# K renders have started (each logs, then sleeps); fails unless every read ended with meminfo.
# The killed worker's pid is left in FIRST.
many_reads_through_kill() {
	local log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log out=$BATS_RUN_TMPDIR/many-$RUN_TAG i n bad=0 pids=()
	mkdir -p "$out"
	n=$(renders "$log")
	for i in $(seq 1 "$1"); do
		timeout 30 cat "$MNT/proc/meminfo" >"$out/$i" 2>&1 &
		pids+=($!)
	done
	wait_until 10 more_renders "$log" $((n + $2))
	FIRST=$(status_field "$PIDF" worker_pid)
	kill_worker KILL
	# (a lost request leaves its reader in D state, which even timeout cannot end: the
	# teardown's stop ends the connection and frees it)
	wait_until 40 none_running "${pids[@]}" || true
	for i in "${pids[@]}"; do
		if kill -0 "$i" 2>/dev/null || ! wait "$i"; then bad=$((bad + 1)); fi
	done
	echo "reads that failed or never ended: $bad of $1" >&2
	[ "$bad" = 0 ]
	for i in $(seq 1 "$1"); do grep -q '^MemTotal:' "$out/$i"; done
}

@test "--threads beyond what the journal carries runs 16, logged: each of 40 reads in flight at a kill is answered (journal only, no RESEND)" {
	# --threads 64 once ran 16 threads without a journal slot: a request one of them held at a
	# kill was lost to a successor without RESEND, and its reader waited for ever
	bin_keeper_start LXCFS_RECOVERY=journal LXCFS_FAULT_SLEEP=meminfo:300 --threads=64
	local log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log
	many_reads_through_kill 40 15 # every request thread inside a render at the kill
	grep -q -- "--threads 64: the journal carries 16 request threads per worker; 16 run" "$log"
	# (its successor may find the journal full while the dead's slots are answered: it waits)
	grep "journal full" "$log" >&2 || true
	refute grep -q "lxcfs-worker\[$FIRST\]: .*journal full" "$log"
}

@test "a full journal: a request thread waits for a slot while the others serve, and reads in flight at a kill are all answered (journal only, no RESEND)" {
	# two slots for four threads (a fault hook): the two without one once read unjournaled, and
	# a request one of them held at a kill was lost to a successor without RESEND
	bin_keeper_start LXCFS_FAULT_JOURNAL_SLOTS=2 LXCFS_RECOVERY=journal LXCFS_FAULT_SLEEP=meminfo:300 --threads=4
	wait_log "journal full: a request thread waits for a slot while the others serve" 5
	many_reads_through_kill 24 1
	# the first worker never read without a slot (its successor may, while the dead's slots are
	# answered, and takes one once they are free)
	refute grep -q "lxcfs-worker\[$FIRST\]: warning: journal full: a request thread runs without one" \
		"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}

@test "$UPGRADES upgrades under four readers: no failed read, the new binary really runs" {
	[ -x "$LXCFS_BIN_NEXT" ] || { echo "missing $LXCFS_BIN_NEXT (meson setup build-next -Dversion_suffix=next)"; false; }
	bin_keeper_start
	containers
	start_readers a-$RUN_TAG 262144 2
	start_readers b-$RUN_TAG 196608 2
	local v1 v2 i keeper
	v1=$("$LXCFS_BIN" --version)
	v2=$("$LXCFS_BIN_NEXT" --version)
	[ "$v1" != "$v2" ]
	keeper=$(cat "$PIDF.started")
	for i in $(seq 1 "$UPGRADES"); do
		if [ $((i % 2)) = 1 ]; then
			upgrade_keeper "$PIDF" "$keeper" "$BIN" "$LXCFS_BIN_NEXT" "$v2"
		else
			upgrade_keeper "$PIDF" "$keeper" "$BIN" "$LXCFS_BIN" "$v1"
		fi
		# the worker runs the file now on disk, not a deleted one
		[ "$(readlink "/proc/$(status_field "$PIDF" worker_pid)/exe")" = "$BIN/lxcfs-worker" ]
	done
	read -r reads failures < <(stop_readers 4)
	echo "reads=$reads failures=$failures"
	[ "$failures" -eq 0 ]
	[ "$reads" -gt $((UPGRADES * 4)) ]
	[ "$(status_field "$PIDF" restarts)" = 0 ]
	# the pidfile is still locked by the keeper: --status finds it running
	"$BIN/lxcfs" -p "$PIDF" --status >/dev/null
}

# The bridge from protocol version 0 (src/reinit/legacy.c): a keeper of the binary before the
# typed protocol (LXCFS_BIN_PREV: scripts/test builds it from commit 400956e) hands its connection
# and its running worker to this binary by positional fd numbers, and talks version 1 to a worker
# of this binary it started itself.
prev_keeper_start() {
	[ -n "${LXCFS_BIN_PREV:-}" ] || skip "LXCFS_BIN_PREV unset (scripts/test builds it from 400956e)"
	cp "$LXCFS_BIN_PREV" "$(dirname "$LXCFS_BIN_PREV")/lxcfs-worker" "$BIN/"
	bin_keeper_start
	containers
	start_readers a-$RUN_TAG 262144 2
	start_readers b-$RUN_TAG 196608 2
	[ "$(status_field "$PIDF" keeper_version)" = "$("$LXCFS_BIN_PREV" --version)" ]
}

bin_install() { # SRC_LXCFS: new files renamed in, as a package upgrade does
	cp "$1" "$BIN/lxcfs.new" && cp "$(dirname "$1")/lxcfs-worker" "$BIN/lxcfs-worker.new"
	mv "$BIN/lxcfs-worker.new" "$BIN/lxcfs-worker" && mv "$BIN/lxcfs.new" "$BIN/lxcfs"
}

# SIGUSR1 to the keeper; then this binary's keeper and worker serve, the keeper's pid unchanged.
upgrade_to_this() {
	local keeper w want
	keeper=$(cat "$PIDF.started")
	want=$("$LXCFS_BIN" --version)
	w=$(status_field "$PIDF" worker_pid)
	kill -USR1 "$keeper"
	wait_worker "$PIDF" "$w"
	wait_until 2 status_is "$PIDF" keeper_version "$want"
	[ "$(status_field "$PIDF" worker_version)" = "$want" ]
	[ "$(status_field "$PIDF" keeper_pid)" = "$keeper" ]
	"$BIN/lxcfs" -p "$PIDF" --status >/dev/null # its pidfile still locked
	# the old worker drained and left (it understood STOP in its own version)
	wait_until 5 gone "$w"
}

# After the bridge: this protocol from end to end (a crash, an upgrade), then no read failed.
then_this_protocol() {
	kill_worker KILL
	upgrade_to_this
	read -r reads failures < <(stop_readers 4)
	echo "reads=$reads failures=$failures"
	[ "$failures" -eq 0 ]
	[ "$reads" -gt 20 ]
	grep -q "hand-over from a keeper of protocol version 0" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}

@test "live upgrade from a keeper of protocol version 0: its worker drains, ours serves, no failed read" {
	prev_keeper_start
	bin_install "$LXCFS_BIN"
	upgrade_to_this
	then_this_protocol
}

@test "a keeper of protocol version 0 restarts a crashed worker with this binary, then upgrades: no failed read" {
	prev_keeper_start
	bin_install "$LXCFS_BIN"
	kill_worker KILL # the old keeper starts this worker binary by version 0's --serve F,S,C,G
	[ "$(status_field "$PIDF" worker_version)" = "$("$LXCFS_BIN" --version)" ]
	upgrade_to_this
	then_this_protocol
}

poison() { # keeper options...
	bin_keeper_start LXCFS_FAULT_CRASH=swaps "$@"
	containers
	start_readers a-$RUN_TAG 262144 2
	run in_container b-$RUN_TAG cat /proc/swaps
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	sleep 0.5
	read -r reads failures < <(stop_readers 2)
	[ "$failures" -eq 0 ]
	[ "$reads" -gt 0 ]
	local restarts
	restarts=$(status_field "$PIDF" restarts)
	[ "$restarts" = 2 ] || { echo "restarts: $restarts"; cat "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; false; }
	grep -q "in flight at 2 worker deaths: answered EIO" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}

@test "poison: a request that crashes every worker gets EIO after the second death, others read on" {
	poison
}

# The same, over and over under readers, each cycle through a standby that takes over at the death
# and sends a RESEND while its threads already serve: the kernel then queues again what they hold,
# and a request can be held twice, or answered from the journal under a number the kernel no longer
# knows (src/fs/carry.h).  Every cycle costs the poison exactly two deaths and nobody else a read.
# (Before the copies were counted as one request: restarts 3 or 4, or a reader's EIO; 60 cycles
# in a row failed 3 runs of 3 here, at the 12th, 13th and 55th, and this test 2 runs of 5.)
@test "poison $POISONS times under readers: each costs exactly two deaths, no other read fails" {
	local i before after
	bin_keeper_start LXCFS_FAULT_CRASH=swaps
	containers
	start_readers a-$RUN_TAG 262144 2
	for i in $(seq 1 "$POISONS"); do
		before=$(status_now "$PIDF" restarts)
		run in_container b-$RUN_TAG cat /proc/swaps
		[[ "$output" == *"Input/output error"* ]] || { echo "cycle $i: exit $status: $output"; false; }
		sleep 0.3 # the keeper counts the second death (a standby may take over before it reaps)
		after=$(status_now "$PIDF" restarts)
		[ $((after - before)) = 2 ] || { echo "cycle $i: restarts $before -> $after"; cat "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; false; }
	done
	read -r reads failures < <(stop_readers 2)
	echo "reads=$reads failures=$failures"
	[ "$failures" -eq 0 ] || { cat "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; false; }
	[ "$reads" -gt 0 ]
}

# With one request thread the first crash comes in the render made at the OPEN (fs/early.h),
# before any thread read the READ: that death is the READ's all the same, not a third.
@test "poison, one request thread: the crash of the render made at the OPEN counts as the READ's" {
	poison --threads=1
	grep -q "a worker crashed rendering early for an open" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}

# A crash is the request its thread was answering, not the others in flight beside it.  A slow
# meminfo read (4 s a render) is in flight at a kill, then answered from the journal by the next
# worker when swaps crashes that one: in flight at two deaths, one of them a crash on another
# request.  Before the crash's handler spared such bystanders, the read got EIO.  (4 s: room for
# a container's cat to start in the TCG guest; the read itself takes two renders and more, past
# the usual timeout.)
@test "a read answered from the journal when another request crashes the worker: spared, answered" {
	local mark slow w
	mark=$(log_mark 2>/dev/null || echo 0)
	bin_keeper_start LXCFS_FAULT_CRASH=swaps LXCFS_FAULT_SLEEP=meminfo:4000 --threads=2
	containers
	TMO=30 in_container a-$RUN_TAG cat /proc/meminfo >"$BATS_TEST_TMPDIR/meminfo" 2>&1 &
	slow=$!
	wait_log_after "$mark" "fault hook: render of meminfo sleeps"
	sleep 0.3 # its READ follows the OPEN whose thread renders
	w=$(status_field "$PIDF" worker_pid)
	mark=$(log_mark)
	kill -KILL "$w"
	wait_worker "$PIDF" "$w"
	wait_log_after "$mark" "answering request .* (opcode 15) of a dead worker from the journal"
	run in_container b-$RUN_TAG cat /proc/swaps
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	wait "$slow" || { echo "the meminfo read: exit $?"; cat "$BATS_TEST_TMPDIR/meminfo"; false; }
	[ "$(field_kb "$(cat "$BATS_TEST_TMPDIR/meminfo")" MemTotal)" = 262144 ]
	in_log_after "$mark" "in flight beside a crash on another request: that death is not counted"
}

# Where the kernel has our series the keeper upgrades such a binary through reinit instead of
# refusing it; tests/vm/reinit.bats drives that tier, this test checks the choice either way.
@test "a state of another format, or garbage: refused (old daemon serves), or reinit where the kernel has it" {
	[ -x "$LXCFS_BIN_SV2" ] || { echo "missing $LXCFS_BIN_SV2 (meson setup build-sv2 -Dstate_version=2)"; false; }
	bin_keeper_start
	containers
	local keeper w v1 reinit
	keeper=$(cat "$PIDF.started")
	w=$(status_field "$PIDF" worker_pid)
	v1=$(status_field "$PIDF" worker_version)
	reinit=$(recovery_has reinit)
	install_bins "$LXCFS_BIN_SV2" "$BIN"
	kill -USR1 "$keeper"
	if [ "$reinit" = yes ]; then
		wait_worker "$PIDF" "$w"
		grep -q "cannot resume (.*another format version.*): upgrading through reinit" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
		[[ "$(status_field "$PIDF" last_upgrade)" == "generation 2 "*"replaced generation 1 through reinit" ]]
		[[ "$(status_field "$PIDF" worker_version)" == *sv2* ]]
		[ "$(status_field "$PIDF" state_version)" = 2 ]
		w=$(status_field "$PIDF" worker_pid)
	else
		wait_until 5 status_like "$PIDF" last_upgrade 'refused*'
		[[ "$(status_field "$PIDF" last_upgrade)" == *"another format version"* ]]
		grep -q "upgrade refused by the binary on disk" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
		[ "$(status_field "$PIDF" worker_pid)" = "$w" ]
		[ "$(status_field "$PIDF" worker_version)" = "$v1" ]
	fi
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]

	# garbage over the live state's header: refused too (or reinit); a crash afterwards recovers
	install_bins "$LXCFS_BIN" "$BIN"
	local fd
	fd=$(ls -l /proc/$keeper/fd | awk '/memfd:lxcfs-state/ {print $9}')
	printf 'GARBAGE!' | dd of=/proc/$keeper/fd/$fd bs=1 conv=notrunc 2>/dev/null
	kill -USR1 "$keeper"
	if [ "$reinit" = yes ]; then
		wait_worker "$PIDF" "$w"
		grep -q "cannot resume (.*bad magic.*): upgrading through reinit" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
		[ "$(status_field "$PIDF" worker_version)" = "$v1" ]
		[ "$(status_field "$PIDF" state_version)" = 1 ]
		kill_worker KILL
	else
		wait_until 5 status_like "$PIDF" last_upgrade '*bad magic*'
		[ "$(status_field "$PIDF" worker_pid)" = "$w" ]
		kill_worker KILL
		grep -q "state header damaged .* repaired from the keeper's copy" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	fi
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
}

state_fd() { # the keeper's state memfd, as a path
	local keeper
	keeper=$(cat "$PIDF.started")
	echo "/proc/$keeper/fd/$(ls -l "/proc/$keeper/fd" | awk '/memfd:lxcfs-state/ {print $9}')"
}

DAMAGE=${LXCFS_BIN%/*}/tests/unit/state-damage

# The live state damaged (state-damage KIND) once the standby is primed, then the worker killed:
# the standby, first to see the death, meets the damage.
damage_then_kill() {
	wait_until 30 status_is "$PIDF" standby_primed yes
	"$DAMAGE" "$(state_fd)" "$1"
	kill -KILL "$(status_field "$PIDF" worker_pid)"
}

# yes or no: whether the status's recovery paths have FEATURE (resend, reinit)
recovery_has() {
	if [[ "$(status_field "$PIDF" recovery)" == *"$1=yes"* ]]; then echo yes; else echo no; fi
}

@test "a damaged state (zeroed or random header, random journal) under readers: repaired, no failed read" {
	bin_keeper_start
	containers
	start_readers a-$RUN_TAG 262144 2
	start_readers b-$RUN_TAG 196608 2
	sleep 0.3
	local kind log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log
	for kind in zero-header random-header random-journal zero-header; do
		"$DAMAGE" "$(state_fd)" $kind
		sleep 0.2 # the worker serves on: it reads nothing of the layout from the header
		kill_worker KILL
		sleep 0.2
	done
	read -r reads failures < <(stop_readers 4)
	echo "reads=$reads failures=$failures" >&2
	grep "damaged\|journal:" "$log" >&2
	if grep -q "were lost with a damaged journal" "$log"; then
		# a kernel that cannot resend (6.1): requests in flight in the damaged slots were lost,
		# so the connection was reset (or replaced) rather than left waiting; those reads failed
		grep -q "reinitialized the connection\|ending it and mounting $MNT afresh" "$log"
		[ "$failures" -le 8 ]
	else
		[ "$failures" -eq 0 ]
	fi
	[ "$reads" -gt 50 ]
	[ "$(grep -c "state header damaged .*; repaired from the keeper's copy" "$log")" -ge 2 ]
	# a random generation never reaches a worker: the keeper counts its own
	[ "$(status_field "$PIDF" generation)" -le 6 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(memtotal b-$RUN_TAG)" = 196608 ]
}

# A journal slot damaged over a request's header, then a kill the standby takes over: on a kernel
# that cannot resend that request the standby refuses, and its refusal must decide the tier as a
# started worker's does (reset, or the connection given up), whichever of the standby and the dead
# worker the keeper reaps first.  ORDER: "any" (in the guest the keeper mostly meets the standby
# dead as it hands it START), or "standby-first" (the keeper made to reap the standby first).
held_journal_kill() {
	local order=$1 log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log resend reinit
	if [ "$order" = standby-first ]; then
		bin_keeper_start LXCFS_FAULT_REAP_STANDBY_FIRST_MS=1000
	else
		bin_keeper_start
	fi
	containers
	start_readers a-$RUN_TAG 262144 2
	resend=$(recovery_has resend)
	reinit=$(recovery_has reinit)
	damage_then_kill held-journal
	wait_until 30 memtotal_is b-$RUN_TAG 196608 || true # the checks below say what went wrong
	read -r reads failures < <(stop_readers 2)
	echo "reads=$reads failures=$failures resend=$resend reinit=$reinit" >&2
	grep "journal\|take over\|standby\|tier\|reinit\|afresh\|restarting" "$log" >&2
	grep -q "journal: 1 slot(s) in no state a live worker leaves" "$log"
	if [ "$resend" = yes ]; then
		refute grep -q "were lost with a damaged journal" "$log"
		[ "$failures" -eq 0 ]
	else
		grep -q "cannot take over: 1 request(s) were lost with a damaged journal" "$log"
		grep -q "it could not take over the connection" "$log"
		if [ "$order" = standby-first ]; then
			refute grep -q "cannot take START" "$log"
			grep -q "killed by signal 9 (Killed); restarting (restart [0-9]*, through \(reinit\|rebind\))" "$log"
		fi
		if [ "$reinit" = yes ]; then
			grep -q "reinitialized the connection" "$log"
		else
			grep -q "ending it and mounting $MNT afresh" "$log"
		fi
	fi
	[ "$reads" -gt 0 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(memtotal b-$RUN_TAG)" = 196608 ]
	kill_worker KILL
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
}

@test "a journal slot that may have held a request, damaged: a kernel that cannot resend it has the connection reset or given up" {
	held_journal_kill any
}

@test "the same, the standby that refused reaped before the dead worker: its refusal still decides" {
	held_journal_kill standby-first
}

@test "a state no repair makes resumable: the connection is reset or given up, no reader hangs, the containers read again" {
	bin_keeper_start
	containers
	local log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log reinit
	reinit=$(recovery_has reinit)
	# the standby replays the INIT when it is primed: damaged after that, it is the first to see it
	damage_then_kill init-reply
	wait_until 30 memtotal_is a-$RUN_TAG 262144 || true # the checks below say what went wrong
	grep "take over\|given up\|afresh\|rebind" "$log" >&2
	grep -q "cannot take over: the INIT on record changed since this standby replayed it" "$log"
	if [ "$reinit" = yes ]; then
		grep -q "reinitialized the connection" "$log"
	else
		# without a reset, a fresh worker tries the record next, and finds it foreign
		grep -q "cannot take over: this binary would negotiate another connection" "$log"
		grep -q "ending it and mounting $MNT afresh" "$log"
		grep -q "$(ns_said "$(container_init a-$RUN_TAG)")[0-9]* mount(s) rebound to .*/proc/meminfo" "$log"
	fi
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(memtotal b-$RUN_TAG)" = 196608 ]
	# one mount at the mountpoint, and the daemon still survives a crash
	[ "$(grep -c " $MNT fuse.lxcfs " /proc/self/mounts)" = 1 ]
	kill_worker KILL
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
}

@test "status reports keeper, worker, generation, restarts, last death and recovery paths" {
	bin_keeper_start
	run "$BIN/lxcfs" --status -p "$PIDF"
	[ "$status" -eq 0 ]
	[[ "$output" == *"keeper_pid: $(cat "$PIDF.started")"* ]]
	[[ "$output" == *"generation: 1"* ]]
	[[ "$output" == *"restarts: 0"* ]]
	[[ "$output" == *"recovery: resume=yes journal=yes"* ]]
	[ "$(stat -c %a "${PIDF%.pid}.status")" = 600 ]
	kill_worker ABRT # (ASan catches SIGSEGV and exits instead of dying by it)
	run "$BIN/lxcfs" --status -p "$PIDF"
	[[ "$output" == *"generation: 2"* ]]
	[[ "$output" == *"restarts: 1"* ]]
	[[ "$output" == *"killed by signal 6"* ]]
}

@test "SIGTERM to the keeper: clean unmount, nothing left behind" {
	bin_keeper_start
	containers
	local keeper w
	keeper=$(cat "$PIDF.started")
	w=$(status_field "$PIDF" worker_pid)
	container_stop a-$RUN_TAG
	container_stop b-$RUN_TAG
	kill -TERM "$keeper"
	wait_until 5 gone "$keeper"
	refute kill -0 "$w" 2>/dev/null
	refute grep -q " $MNT fuse" /proc/self/mounts
	[ ! -e "$PIDF" ]
	[ ! -e "${PIDF%.pid}.status" ]
	refute pgrep -f "lxcfs-worker --serve .* $MNT\$"
	run "$BIN/lxcfs" --status -p "$PIDF"
	[ "$status" -ne 0 ]
	grep -q "shutting down" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
}
