# Shared helpers of the end-to-end suites: a daemon on a private mountpoint, cgroups with known
# limits, and "containers" (own pid+mount namespaces in those cgroups, with the lxcfs files
# bind-mounted over /proc and /sys/devices/system/cpu the way LXC's mount hook does it).
# Everything carries a per-run tag so suites can run beside other users of the machine; only
# pids and mounts we created are ever killed or unmounted.

LXCFS_BIN=${LXCFS_BIN:-$BATS_TEST_DIRNAME/../../build/lxcfs}
RUN_TAG=${RUN_TAG:-lxcfst$$}
TMO=${TMO:-5}

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
	local name=$1 root i
	for root in $(cg_roots); do
		[ -d "$root/$name" ] || continue
		for i in 1 2 3 4 5 6 7 8 9 10; do
			rmdir "$root/$name" 2>/dev/null && break
			sleep 0.1
		done
	done
}

# daemon_start MNT PIDFILE [options...]: starts lxcfs, waits until it serves.
daemon_start() {
	local mnt=$1 pidfile=$2 i
	shift 2
	mkdir -p "$mnt" 2>/dev/null || true # a dead mount there answers ENOTCONN
	# LXCFS_WRAP: a command to run the daemon under (valgrind); it must exec the daemon in place.
	$LXCFS_WRAP "$LXCFS_BIN" -p "$pidfile" "$@" "$mnt" >>"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log" 2>&1 &
	echo $! >"$pidfile.started"
	for i in $(seq 1 ${LXCFS_START_TRIES:-100}); do
		if grep -q " $mnt fuse.lxcfs " /proc/self/mounts && timeout "$TMO" cat "$mnt/proc/uptime" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	echo "lxcfs did not come up on $mnt" >&2
	cat "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log" >&2
	return 1
}

# daemon_stop MNT PIDFILE: SIGTERM to the pid we started; unmount whatever is left.
daemon_stop() {
	local mnt=$1 pidfile=$2 pid i
	pid=$(cat "$pidfile.started" 2>/dev/null) || true
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	while grep -q " $mnt fuse.lxcfs " /proc/self/mounts; do
		umount -l "$mnt" || break
	done
	rm -f "$pidfile.started"
}

# container_start NAME CGROUP MNT: a shell as pid 1 of new pid+mount namespaces inside CGROUP,
# with MNT's files bound over its /proc and /sys/devices/system/cpu.  Prints the host pid of
# that init into $BATS_RUN_TMPDIR/NAME.pid.
container_start() {
	local name=$1 cg=$2 mnt=$3 root i
	local ready=$BATS_RUN_TMPDIR/$name.ready
	rm -f "$ready"
	(
		if cgroup_v2; then
			echo $BASHPID >/sys/fs/cgroup/$cg/cgroup.procs
		else
			for root in $(cg_roots); do echo $BASHPID >"$root/$cg/cgroup.procs"; done
		fi
		exec unshare --pid --mount --fork --mount-proc --propagation private sh -c '
			for f in "$1"/proc/*; do
				[ -e "/proc/${f##*/}" ] && mount --bind "$f" "/proc/${f##*/}"
			done
			mount --bind "$1/sys/devices/system/cpu" /sys/devices/system/cpu
			touch "$2"
			exec sleep infinity' sh "$mnt" "$ready"
	) &
	local outer=$!
	disown "$outer" # killed by container_stop; no job notice from bash
	for i in $(seq 1 100); do
		[ -e "$ready" ] && break
		sleep 0.05
	done
	[ -e "$ready" ] || { echo "container $name did not start" >&2; return 1; }
	# pid 1 of the new namespace is the child unshare forked.
	local init
	init=$(cat /proc/$outer/task/$outer/children | awk '{print $1}')
	echo "$init" >"$BATS_RUN_TMPDIR/$name.pid"
	echo "$outer" >"$BATS_RUN_TMPDIR/$name.outer"
}

container_init() { cat "$BATS_RUN_TMPDIR/$1.pid"; }

# in_container NAME CMD...: runs CMD inside NAME's namespaces, under timeout.
in_container() {
	local name=$1
	shift
	nsenter -t "$(container_init "$name")" -p -m -- timeout "$TMO" "$@"
}

container_stop() {
	local name=$1 pid
	for f in outer pid; do
		pid=$(cat "$BATS_RUN_TMPDIR/$name.$f" 2>/dev/null) || continue
		kill -KILL "$pid" 2>/dev/null || true
	done
	for f in outer pid; do
		pid=$(cat "$BATS_RUN_TMPDIR/$name.$f" 2>/dev/null) || continue
		while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
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

# meminfo_kb FILE-CONTENT KEY
field_kb() { awk -v k="$2:" '$1 == k { print $2 }' <<<"$1"; }

# wait_log TEXT: until the daemon's log holds TEXT (at most 10 s).
wait_log() {
	local i
	for i in $(seq 1 200); do
		grep -q -- "$1" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log" && return 0
		sleep 0.05
	done
	echo "no '$1' in the log" >&2
	return 1
}

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
	local ready=$BATS_RUN_TMPDIR/devlock.held i
	rm -f "$ready"
	flock "$DEVLOCK" sh -c 'echo $$ >"$1"; exec sleep infinity' sh "$ready" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$BATS_RUN_TMPDIR/devlock.flock"
	for i in $(seq 1 36000); do # another suite may hold it for a while: an hour at most
		[ -s "$ready" ] && return 0
		sleep 0.1
	done
	echo "could not take $DEVLOCK within an hour" >&2
	return 1
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

# wait_worker PIDFILE OLDPID: until a worker other than OLDPID serves and reported ready.
wait_worker() {
	local pidfile=$1 old=$2 w end=$((SECONDS + ${LXCFS_WORKER_WAIT:-15}))
	# a deadline, not a count of tries: a try costs far more in the debug kernel under TCG
	while [ "$SECONDS" -le "$end" ]; do
		w=$(status_field "$pidfile" worker_pid)
		if [ -n "$w" ] && [ "$w" != 0 ] && [ "$w" != "$old" ] && kill -0 "$w" 2>/dev/null &&
			grep -q "generation $(status_field "$pidfile" generation) serving" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; then
			return 0
		fi
		sleep 0.02
	done
	echo "no new worker after $old" >&2
	return 1
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

# readers_collect STOPFILE DIR N: ends the N reader loops writing their results into DIR
# (READER_LOOP's): creates STOPFILE, waits (30 s at most) for their results, prints each kind of
# failure, counted, on stderr and "reads failures" summed over them on stdout.
readers_collect() {
	local i
	touch "$1"
	for i in $(seq 1 300); do
		[ "$(ls "$2" | grep -vc '\.err$')" -ge "$3" ] && break
		sleep 0.1
	done
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
