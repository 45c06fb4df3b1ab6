# Shared helpers of the end-to-end suites: a daemon on a private mountpoint, cgroups with known
# limits, and "containers" (own pid+mount namespaces in those cgroups, with the lxcfs files
# bind-mounted over /proc and /sys/devices/system/cpu the way LXC's mount hook does it).
# Everything carries a per-run tag so suites can run beside other users of the machine; only
# pids and mounts we created are ever killed or unmounted.

LXCFS_BIN=${LXCFS_BIN:-$BATS_TEST_DIRNAME/../../build/lxcfs}
RUN_TAG=${RUN_TAG:-lxcfst$$}
TMO=${TMO:-5}

# wait_until SECONDS CMD...: runs CMD quietly every 50 ms until it succeeds.  SECONDS (may be
# fractional) is a deadline, not a count of tries: a try costs far more in the debug kernel under
# TCG.  When it passes, says what was awaited and fails, so the test fails there.  CMD may be a
# function; a read through FUSE in it still runs under timeout.
wait_until() {
	local secs=$1 now end
	shift
	now=${EPOCHREALTIME/[.,]/}
	end=$((now + $(usecs "$secs")))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		now=${EPOCHREALTIME/[.,]/}
		[ "$now" -lt "$end" ] || break
		sleep "${WAIT_STEP:-0.05}"
	done
	echo "waited ${secs} s in vain for: $*" >&2
	return 1
}

# usecs SECONDS: SECONDS (e.g. 5 or 0.5) in microseconds.
usecs() {
	local s=${1%%.*} f=
	[[ "$1" == *.* ]] && f=${1#*.}
	f=${f}000000
	echo $((10#${s:-0} * 1000000 + 10#${f:0:6}))
}

# gone PID: no process PID (a zombie still counts as one; see ended).
gone() { ! kill -0 "$1" 2>/dev/null; }

# Top-level cgroup dirs of the v1 controllers we use (v2: the unified mount).
cg_roots() {
	local c
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		echo /sys/fs/cgroup
		return
	fi
	for c in memory cpuset cpu cpuacct blkio; do
		[ -d /sys/fs/cgroup/$c ] && echo /sys/fs/cgroup/$c
	done
}

cgroup_v2() { [ -f /sys/fs/cgroup/cgroup.controllers ]; }

# cg_make NAME MEM_BYTES CPUS: a cgroup named NAME in every hierarchy, with those limits.
cg_make() {
	local name=$1 mem=$2 cpus=$3 root
	if cgroup_v2; then
		echo "+memory +cpuset +cpu +io" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
		mkdir -p /sys/fs/cgroup/$name
		echo "$mem" > /sys/fs/cgroup/$name/memory.max
		echo "$cpus" > /sys/fs/cgroup/$name/cpuset.cpus
		return
	fi
	for root in $(cg_roots); do mkdir -p "$root/$name"; done
	echo "$mem" > /sys/fs/cgroup/memory/$name/memory.limit_in_bytes
	cat /sys/fs/cgroup/cpuset/cpuset.mems > /sys/fs/cgroup/cpuset/$name/cpuset.mems
	echo "$cpus" > /sys/fs/cgroup/cpuset/$name/cpuset.cpus
}

# cg_quota NAME QUOTA_US PERIOD_US: a cpu bandwidth limit on NAME.
cg_quota() {
	if cgroup_v2; then
		echo "$2 $3" >/sys/fs/cgroup/$1/cpu.max
	else
		echo "$3" >/sys/fs/cgroup/cpu/$1/cpu.cfs_period_us
		echo "$2" >/sys/fs/cgroup/cpu/$1/cpu.cfs_quota_us
	fi
}

cg_remove() {
	local name=$1 root
	for root in $(cg_roots); do
		[ -d "$root/$name" ] || continue
		wait_until 1 rmdir "$root/$name" || true # its last tasks may still be exiting
	done
}

# lxcfs_serves MNT: lxcfs is mounted at MNT and answers a read.
lxcfs_serves() { grep -q " $1 fuse.lxcfs " /proc/self/mounts && timeout "$TMO" cat "$1/proc/uptime" >/dev/null 2>&1; }

# daemon_start MNT PIDFILE [options...]: starts lxcfs, waits (LXCFS_START_WAIT s, default 5)
# until it serves.
daemon_start() {
	local mnt=$1 pidfile=$2
	shift 2
	mkdir -p "$mnt" 2>/dev/null || true # a dead mount there answers ENOTCONN
	# LXCFS_WRAP: a command to run the daemon under (valgrind); it must exec the daemon in place.
	$LXCFS_WRAP "$LXCFS_BIN" -p "$pidfile" "$@" "$mnt" >>"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log" 2>&1 &
	echo $! >"$pidfile.started"
	wait_until "${LXCFS_START_WAIT:-5}" lxcfs_serves "$mnt" && return 0
	echo "lxcfs did not come up on $mnt" >&2
	cat "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log" >&2
	return 1
}

# daemon_stop MNT PIDFILE: SIGTERM to the pid we started; unmount whatever is left.
daemon_stop() {
	local mnt=$1 pidfile=$2 pid
	pid=$(cat "$pidfile.started" 2>/dev/null) || true
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait_until 5 gone "$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	while grep -q " $mnt fuse.lxcfs " /proc/self/mounts; do
		umount -l "$mnt" || break
	done
	rm -f "$pidfile.started"
}

# --- set-up shapes the suites share ---

# cg_pair: in setup_file, the suite's two container cgroups: CG1 (256 MiB, cpu 0) and CG2
# (128 MiB, cpu 1).  cg_pair_remove in teardown_file.
cg_pair() {
	export CG1=lxcfs-test-$RUN_TAG-a CG2=lxcfs-test-$RUN_TAG-b
	cg_make "$CG1" $((256 * 1024 * 1024)) 0
	cg_make "$CG2" $((128 * 1024 * 1024)) 1
}
cg_pair_remove() {
	cg_remove "$CG1"
	cg_remove "$CG2"
}

# suite_paths: in setup_file, MNT and PIDF of the one daemon the whole suite uses.
suite_paths() {
	export MNT=$BATS_RUN_TMPDIR/mnt-$RUN_TAG
	export PIDF=$BATS_RUN_TMPDIR/$RUN_TAG.pid
}

# test_paths: in setup, MNT and PIDF of this test's own daemon, and an empty daemon log (each
# test reads only its own daemon's log).
test_paths() {
	: >"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	export MNT=$BATS_RUN_TMPDIR/mnt-$RUN_TAG-$BATS_TEST_NUMBER
	export PIDF=$BATS_RUN_TMPDIR/$RUN_TAG-$BATS_TEST_NUMBER.pid
}

# keeper_start [VAR=value...] [--option...]: lxcfs --restart-on-crash at MNT (PIDF) with those
# variables in the environment of the keeper and its workers (LXCFS_BIN=... picks the binary)
# and those options; waits for its first worker.
keeper_start() {
	(
		args=()
		for a in "$@"; do
			case "$a" in -*) args+=("$a") ;; *) export "${a?}" ;; esac
		done
		daemon_start "$MNT" "$PIDF" --restart-on-crash "${args[@]}"
	)
	wait_worker "$PIDF" none
}

# kill_worker SIGNAL: sends SIGNAL to PIDF's worker; waits for the next one.
kill_worker() {
	local w
	w=$(status_field "$PIDF" worker_pid)
	kill -"$1" "$w"
	wait_worker "$PIDF" "$w"
}

# kill_workers N: N times, SIGKILL to PIDF's worker once the one before it serves, 0.1 s apart.
kill_workers() {
	local i
	for i in $(seq 1 "$1"); do
		kill_worker KILL
		sleep 0.1
	done
}

# answers MNT: a read through MNT succeeds, whoever serves it.
answers() { timeout "$TMO" cat "$1/proc/uptime" >/dev/null 2>&1; }

# upstream_start MNT PIDFILE [LOG]: the installed lxcfs (Debian's: not ours) at MNT in the
# background, its pid in UPSTREAM; waits until it answers.
upstream_start() {
	mkdir -p "$1"
	/usr/bin/lxcfs -f -p "$2" "$1" >"${3:-/dev/null}" 2>&1 3>&- &
	UPSTREAM=$!
	wait_until 5 answers "$1"
}

# container_start NAME CGROUP MNT: a shell as pid 1 of new pid+mount namespaces inside CGROUP,
# with MNT's files bound over its /proc and /sys/devices/system/cpu.  Prints the host pid of
# that init into $BATS_RUN_TMPDIR/NAME.pid.  CT_PROPAGATION: its mounts' propagation (unshare's
# --propagation; private by default).
container_start() {
	local name=$1 cg=$2 mnt=$3 root
	local ready=$BATS_RUN_TMPDIR/$name.ready
	rm -f "$ready"
	(
		if cgroup_v2; then
			echo $BASHPID >/sys/fs/cgroup/$cg/cgroup.procs
		else
			for root in $(cg_roots); do echo $BASHPID >"$root/$cg/cgroup.procs"; done
		fi
		exec unshare --pid --mount --fork --mount-proc --propagation "${CT_PROPAGATION:-private}" sh -c '
			for f in "$1"/proc/*; do
				[ -e "/proc/${f##*/}" ] && mount --bind "$f" "/proc/${f##*/}"
			done
			mount --bind "$1/sys/devices/system/cpu" /sys/devices/system/cpu
			touch "$2"
			exec sleep infinity' sh "$mnt" "$ready" 2>"$BATS_RUN_TMPDIR/$name.err"
	) &
	local outer=$!
	disown "$outer" # killed by container_stop; no job notice from bash
	# A dozen mounts, each a process: seconds in the debug guest under TCG when it is busy (5 s
	# once ran out there).  The err file is this start's own: a stop leaves unshare's complaint
	# about its child's SIGKILL in it.
	wait_until 30 test -e "$ready" || {
		echo "container $name did not start ($(gone "$outer" && echo ended || echo still starting)):" \
			"$(cat "$BATS_RUN_TMPDIR/$name.err" 2>/dev/null)" >&2
		return 1
	}
	# pid 1 of the new namespace is the child unshare forked.
	local init
	init=$(cat /proc/$outer/task/$outer/children | awk '{print $1}')
	echo "$init" >"$BATS_RUN_TMPDIR/$name.pid"
	echo "$outer" >"$BATS_RUN_TMPDIR/$name.outer"
}

container_init() { cat "$BATS_RUN_TMPDIR/$1.pid"; }

# mntns_of PID: the inode of PID's mount namespace, as the rebind's log names a namespace.
mntns_of() { readlink "/proc/$1/ns/mnt" | tr -dc 0-9; }

# ns_said PID: what starts the rebind's lines about PID's mount namespace, as a grep pattern:
# its inode, then what the pass found of it in parentheses (or nothing), then ": ".
ns_said() { echo "rebind: mount namespace $(mntns_of "$1")\( ([^)]*)\)\?: "; }

# kernel_at_least MMNN: whether the running kernel is at least major MM, minor NN (613: 6.13).
kernel_at_least() { [ "$(uname -r | awk -F. -v want="$1" '{ print ($1 * 100 + $2 >= want) }')" = 1 ]; }

# lists_namespaces: whether the rebind here takes the kernel's list of mount namespaces (Linux
# 6.13 and later, from the host's pid namespace) instead of a walk of /proc.
lists_namespaces() {
	kernel_at_least 613 &&
		[ "$(readlink /proc/self/ns/pid)" = "pid:[4026531836]" ]
}

# in_container NAME CMD...: runs CMD inside NAME's namespaces, under timeout.
in_container() {
	local name=$1
	shift
	nsenter -t "$(container_init "$name")" -p -m -- timeout "$TMO" "$@"
}

# The container's init first, then what started it: unshare, its parent, reaps it at once.  Killed
# together, the init outlives unshare as a zombie of PID 1, which reaps late on some hosts
# (1.3-1.9 s a container here, minutes over the suites).
container_stop() {
	local name=$1 pid
	for f in pid outer; do
		pid=$(cat "$BATS_RUN_TMPDIR/$name.$f" 2>/dev/null) || continue
		kill -KILL "$pid" 2>/dev/null || true
		wait_until 30 gone "$pid"
		rm -f "$BATS_RUN_TMPDIR/$name.$f"
	done
}

# refute CMD...: fails when CMD succeeds.  A bare "! CMD" never fails a bats test unless it is
# the test's last command: bash's errexit ignores negated commands.
refute() { if "$@"; then return 1; fi; }

# ended PID: the process runs no more: gone, or a zombie its parent has not reaped yet (an
# orphan's parent is whatever adopted it).
ended() {
	local s
	s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$s" ] || [ "$s" = Z ] || [ "$s" = X ]
}

# memtotal NAME: MemTotal (kB) in the container's /proc/meminfo; empty if the read fails.
memtotal() { field_kb "$(in_container "$1" cat /proc/meminfo)" MemTotal; }
memtotal_is() { [ "$(memtotal "$1")" = "$2" ]; } # NAME KB

# meminfo_kb FILE-CONTENT KEY
field_kb() { awk -v k="$2:" '$1 == k { print $2 }' <<<"$1"; }

# in_log TEXT: the daemon's log holds TEXT (a grep pattern).
in_log() { grep -q -- "$1" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; }

# wait_log TEXT [SECONDS]: until the daemon's log holds TEXT (at most SECONDS, default 10).
wait_log() { wait_until "${2:-10}" in_log "$1"; }

# log_mark: how many lines the daemon's log has now.  wait_log_after MARK TEXT [SECONDS]: until
# a line after those holds TEXT.  For a line every start writes, such as the rebind's summary:
# one from an earlier start must not stand for this one's (a start that found only others' dead
# mounts, left alone, says "0 dead mount(s) healed").
log_mark() { wc -l <"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; }
in_log_after() { grep -q -- "$2" < <(tail -n +$(($1 + 1)) "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"); }
wait_log_after() { wait_until "${3:-10}" in_log_after "$1" "$2"; }

# skip_file REASON, in setup_file (then return 0): every test of the file skips with REASON.
# Debian 12's bats (1.8) fails a setup_file that calls skip.  The file's setup calls
# skip_if_file_skipped; its teardowns return early when file_skipped.
skip_file() { export LXCFST_SKIP_FILE=$1; }
file_skipped() { [ -n "${LXCFST_SKIP_FILE:-}" ]; }
skip_if_file_skipped() { if file_skipped; then skip "$LXCFST_SKIP_FILE"; fi; }

# --- the machine-wide lock ---

# /var/lib/lxcfs, /usr/bin/lxcfs and the lxcfs package are the machine's: suites that use them
# (package.bats, lxd.bats) hold this lock throughout, so that concurrent users of one machine
# take turns.
DEVLOCK=/run/lxcfs-devlock

# Whether a process that holds the flock on $DEVLOCK is this shell or one of its ancestors.
devlock_ours() {
	local ino p holders
	ino=$(stat -c %i "$DEVLOCK" 2>/dev/null) || return 1
	holders=$(awk -v i="$ino" '$2 == "FLOCK" { n = split($6, a, ":"); if (a[n] == i) print $5 }' /proc/locks)
	[ -n "$holders" ] || return 1
	p=$$
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		grep -qx "$p" <<<"$holders" && return 0
		p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
	done
	return 1
}

# Takes the lock in a holder process of its own, so that no daemon or container started by a
# test inherits the lock's fd (and holds the lock after the suite).
devlock_take() {
	devlock_ours && return 0
	local ready=$BATS_RUN_TMPDIR/devlock.held
	rm -f "$ready"
	flock "$DEVLOCK" sh -c 'echo $$ >"$1"; exec sleep infinity' sh "$ready" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$BATS_RUN_TMPDIR/devlock.flock"
	# another suite may hold it for a while: an hour at most
	WAIT_STEP=0.1 wait_until 3600 test -s "$ready"
}

devlock_release() {
	local p
	p=$(cat "$BATS_RUN_TMPDIR/devlock.held" 2>/dev/null) && kill "$p" 2>/dev/null
	p=$(cat "$BATS_RUN_TMPDIR/devlock.flock" 2>/dev/null) && kill "$p" 2>/dev/null
	rm -f "$BATS_RUN_TMPDIR/devlock.held" "$BATS_RUN_TMPDIR/devlock.flock"
	true
}

# --- restart-on-crash helpers ---

# status_field PIDFILE FIELD: a field of the keeper's status file (written beside the pidfile).
status_field() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "${1%.pid}.status" 2>/dev/null
}

# status_now PIDFILE FIELD: FIELD as the keeper counts it now (lxcfs --status asks it to; the
# file holds the counts of the last time).
status_now() { "$LXCFS_BIN" --status -p "$1" "$MNT" | awk -v f="$2:" '$1 == f { print $2 }'; }

# status_now_is PIDFILE FIELD VALUE: the keeper's count of FIELD is now VALUE.
status_now_is() { [ "$(status_now "$1" "$2")" = "$3" ]; }

# status_field_set PIDFILE FIELD: the status file has a value for FIELD.
status_field_set() { [ -n "$(status_field "$1" "$2")" ]; }

# status_is PIDFILE FIELD VALUE: the status file's FIELD is VALUE.
status_is() { [ "$(status_field "$1" "$2")" = "$3" ]; }

# status_like PIDFILE FIELD GLOB: the status file's FIELD matches the bash pattern GLOB.
# shellcheck disable=SC2053 # GLOB is a pattern
status_like() { [[ "$(status_field "$1" "$2")" == $3 ]]; }

# new_worker PIDFILE OLDPID: a worker other than OLDPID runs and logged that it serves.
new_worker() {
	local w
	w=$(status_field "$1" worker_pid)
	[ -n "$w" ] && [ "$w" != 0 ] && [ "$w" != "$2" ] && kill -0 "$w" 2>/dev/null &&
		in_log "generation $(status_field "$1" generation) serving"
}

# wait_worker PIDFILE OLDPID: until a worker other than OLDPID serves and reported ready.
wait_worker() { WAIT_STEP=0.02 wait_until "${LXCFS_WORKER_WAIT:-15}" new_worker "$1" "$2"; }

# install_bins SRC DIR: SRC's lxcfs and the lxcfs-worker beside it into DIR the way a package
# upgrade replaces installed binaries: new files, renamed in.
install_bins() {
	cp "$1" "$2/lxcfs.new" && cp "$(dirname "$1")/lxcfs-worker" "$2/lxcfs-worker.new"
	mv "$2/lxcfs-worker.new" "$2/lxcfs-worker" && mv "$2/lxcfs.new" "$2/lxcfs"
}

# upgrade_keeper PIDFILE KEEPER BINDIR SRC VERSION: installs SRC's binaries into BINDIR (where
# KEEPER runs from), asks KEEPER to upgrade (SIGUSR1) and checks that a new worker and the same
# keeper pid run VERSION.
upgrade_keeper() {
	local pidfile=$1 keeper=$2 w
	install_bins "$4" "$3"
	w=$(status_field "$pidfile" worker_pid)
	kill -USR1 "$keeper"
	wait_worker "$pidfile" "$w"
	wait_until 2 status_is "$pidfile" keeper_version "$5"
	# (the worker logs that it serves before its READY reaches the keeper, which then writes the
	# status with the version the worker put in the header)
	wait_until 2 status_is "$pidfile" worker_version "$5"
	status_is "$pidfile" keeper_pid "$keeper"
}

# The loop every reader runs inside a container: reads meminfo, cpuinfo, stat and uptime and
# checks each value until the file STOP exists; then writes "reads failures" to OUT, and each
# failure to OUT.err.  Arguments: STOP OUT EXPECTED_MEMTOTAL_KB [CPUS, default 1].  Plain sh:
# busybox runs it.
READER_LOOP='
	stop=$1 out=$2 mem=$3 cpus=${4:-1} ok=0 bad=0
	fail() { bad=$((bad + 1)); echo "$1" >>"$out.err"; }
	while [ ! -e "$stop" ]; do
		m=$(timeout 10 cat /proc/meminfo) || { fail "meminfo: read failed"; continue; }
		t=$(echo "$m" | awk "/^MemTotal:/ {print \$2}")
		[ "$t" = "$mem" ] || fail "meminfo: MemTotal $t"
		c=$(timeout 10 cat /proc/cpuinfo) || { fail "cpuinfo: read failed"; continue; }
		[ "$(echo "$c" | grep -c ^processor)" = "$cpus" ] || fail "cpuinfo: $(echo "$c" | grep -c ^processor) cpus"
		s=$(timeout 10 cat /proc/stat) || { fail "stat: read failed"; continue; }
		[ "$(echo "$s" | grep -c "^cpu[0-9]")" = "$cpus" ] || fail "stat: wrong cpu lines"
		u=$(timeout 10 cat /proc/uptime) || { fail "uptime: read failed"; continue; }
		case "$u" in [0-9]*.[0-9][0-9]\ [0-9]*) ;; *) fail "uptime: [$u]" ;; esac
		ok=$((ok + 4))
	done
	echo "$ok $bad" >"$out"'

# start_readers NAME EXPECTED_MEMTOTAL_KB N: N reader loops in container NAME, until
# $BATS_RUN_TMPDIR/stop-$RUN_TAG exists; results in $BATS_RUN_TMPDIR/readers-$RUN_TAG/NAME.I.
start_readers() {
	local name=$1 mem=$2 n=$3 i dir=$BATS_RUN_TMPDIR/readers-$RUN_TAG
	mkdir -p "$dir"
	for i in $(seq 1 "$n"); do
		nsenter -t "$(container_init "$name")" -p -m -- sh -c "$READER_LOOP" sh \
			"$BATS_RUN_TMPDIR/stop-$RUN_TAG" "$dir/$name.$i" "$mem" &
	done
}

# results_in DIR N: DIR holds N results (files other than .err).
results_in() { [ "$(ls "$1" | grep -vc '\.err$')" -ge "$2" ]; }

# readers_collect STOPFILE DIR N: ends the N reader loops writing their results into DIR
# (READER_LOOP's): creates STOPFILE, waits (30 s at most) for their results, prints each kind of
# failure, counted, on stderr and "reads failures" summed over them on stdout.
readers_collect() {
	touch "$1"
	wait_until 30 results_in "$2" "$3" || true # the sums say which are missing
	cat "$2"/*.err 2>/dev/null | sort | uniq -c | head -20 >&2
	cat $(ls -d "$2"/* | grep -v '\.err$') | awk '{ r += $1; f += $2 } END { print r + 0, f + 0 }'
}

# stop_readers N: ends the N reader loops start_readers started; prints "reads failures".
stop_readers() {
	local dir=$BATS_RUN_TMPDIR/readers-$RUN_TAG
	readers_collect "$BATS_RUN_TMPDIR/stop-$RUN_TAG" "$dir" "$1"
	rm -rf "$dir" "$BATS_RUN_TMPDIR/stop-$RUN_TAG"
}

# stop_readers_ok N MIN: stops the N reader loops; fails unless none failed and there were more
# than MIN reads.
stop_readers_ok() {
	local reads failures
	read -r reads failures < <(stop_readers "$1")
	echo "reads=$reads failures=$failures" >&2
	[ "$failures" -eq 0 ]
	[ "$reads" -gt "$2" ]
}
