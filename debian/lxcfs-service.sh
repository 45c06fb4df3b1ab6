# Sourced (POSIX sh) by /etc/init.d/lxcfs and by the lxcfs package's maintainer scripts: what
# serves the mountpoint, and starting, upgrading and stopping the keeper where no service
# manager runs it.  Functions only; nothing runs when it is sourced.

LXCFS_BIN=/usr/bin/lxcfs
LXCFS_WORKER=/usr/libexec/lxcfs/lxcfs-worker
LXCFS_MNT=/var/lib/lxcfs
LXCFS_PIDFILE=/run/lxcfs.pid
LXCFS_LOG=/var/log/lxcfs.log

# An lxcfs mount at the mountpoint in our namespace, live or dead (its daemon gone).
lxcfs_mounted() {
	awk -v m="$LXCFS_MNT" '$2 == m && $3 == "fuse.lxcfs" { f = 1 } END { exit !f }' /proc/self/mounts
}

# ... and it answers.  A daemon that hangs costs 5 s here, never a hung script.
lxcfs_live() {
	lxcfs_mounted && timeout 5 cat "$LXCFS_MNT/proc/uptime" >/dev/null 2>&1
}

# This package's keeper holds the pidfile: the pidfile's process runs with --restart-on-crash
# (Debian's lxcfs 5.0 has no such option), and `lxcfs --status` finds it: 0 (its report) or 4
# (running, the report unreadable; also what it says of any other daemon holding the pidfile).
lxcfs_ours() {
	_kpid=$(cat "$LXCFS_PIDFILE" 2>/dev/null) || return 1
	case "$_kpid" in '' | *[!0-9]*) return 1 ;; esac
	tr '\0' '\n' 2>/dev/null <"/proc/$_kpid/cmdline" | grep -qx -e --restart-on-crash || return 1
	_rc=0
	"$LXCFS_BIN" --status -p "$LXCFS_PIDFILE" >/dev/null 2>&1 || _rc=$?
	[ "$_rc" = 0 ] || [ "$_rc" = 4 ]
}

# The pid of a running lxcfs daemon named by the pidfile that is not this package's keeper
# (Debian's lxcfs 5.0, upstream's); nothing if there is none.
lxcfs_foreign_pid() {
	_pid=$(cat "$LXCFS_PIDFILE" 2>/dev/null) || return 0
	case "$_pid" in '' | *[!0-9]*) return 0 ;; esac
	[ "$(cat "/proc/$_pid/comm" 2>/dev/null)" = lxcfs ] || return 0
	lxcfs_ours && return 0
	echo "$_pid"
}

# Workers of this package serving the mountpoint (a worker's last argument is the mountpoint),
# including those of a binary that an upgrade replaced on disk.
lxcfs_workers() {
	for _d in /proc/[0-9]*; do
		_exe=$(readlink "$_d/exe" 2>/dev/null) || continue
		case "$_exe" in "$LXCFS_WORKER" | "$LXCFS_WORKER (deleted)") ;; *) continue ;; esac
		[ "$(tr '\0' '\n' <"$_d/cmdline" 2>/dev/null | tail -n 1)" = "$LXCFS_MNT" ] || continue
		echo "${_d#/proc/}"
	done
}

# Whether the installed lxcfs has the command --$1 (its help lists it): --replace and --release
# came after the first packages, and the scripts work without them.
lxcfs_has() {
	"$LXCFS_BIN" --help 2>&1 | grep -q -e "^[[:space:]]*--$1[[:space:]]"
}

# Runs lxcfs with the arguments given, appending its output to the log and copying it to stderr,
# and with no other fd of the caller: `lxcfs --replace` leaves a worker serving after it exits,
# which must not hold dpkg's or apt's terminal and pipes open (apt waits for them to close).
# bash (essential) closes them: dash cannot name fds above 9.  Returns lxcfs's exit status.
lxcfs_run_logged() {
	_size=$(stat -c %s "$LXCFS_LOG" 2>/dev/null || echo 0)
	_rc=0
	bash -c 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done
		exec "$@"' lxcfs "$LXCFS_BIN" "$@" </dev/null >>"$LXCFS_LOG" 2>&1 || _rc=$?
	tail -c +$((_size + 1)) "$LXCFS_LOG" >&2 2>/dev/null || true
	return "$_rc"
}

# A field of the running keeper's report, fresh (--status has the keeper write it anew).
lxcfs_status_field() {
	"$LXCFS_BIN" --status -p "$LXCFS_PIDFILE" 2>/dev/null | sed -n "s/^$1: //p"
}

# Until this package's keeper serves at the mountpoint (its report readable, the mount answers),
# at most $1 seconds.
lxcfs_wait_serving() {
	_n=$(($1 * 10))
	while [ "$_n" -gt 0 ]; do
		if lxcfs_ours && lxcfs_live; then
			return 0
		fi
		sleep 0.1
		_n=$((_n - 1))
	done
	return 1
}

# Starts the keeper detached, as a service manager would: its own session, stdin /dev/null,
# stdout and stderr appended to the log, none of the caller's other fds (dpkg's and apt's pipes)
# kept open, exempt from the OOM killer like the unit (its workers inherit that).  The keeper
# adopts a worker it finds serving the mountpoint without a keeper (after `lxcfs --replace`),
# replaces a dead mount there and rebinds the containers' mounts of it.  Then waits (at most $1
# seconds) until it serves; on failure the log's last lines go to stderr.
lxcfs_start_detached() {
	mkdir -p "$LXCFS_MNT" 2>/dev/null || true # fails with a dead mount there (ENOTCONN)
	start-stop-daemon --start --quiet --oknodo --background --output "$LXCFS_LOG" \
		--pidfile "$LXCFS_PIDFILE" --name lxcfs --startas /bin/sh -- \
		-c 'echo -1000 >/proc/self/oom_score_adj; exec "$0" --restart-on-crash "$1"' \
		"$LXCFS_BIN" "$LXCFS_MNT" || return 1
	if lxcfs_wait_serving "$1"; then
		return 0
	fi
	echo "lxcfs did not come up on $LXCFS_MNT; the end of $LXCFS_LOG:" >&2
	tail -n 5 "$LXCFS_LOG" >&2 2>/dev/null || true
	return 1
}

# SIGTERM to the daemon named by the pidfile (a keeper outside systemd unmounts the mountpoint and
# stops its workers), SIGKILL if it is still there 20 s later.
lxcfs_stop_detached() {
	start-stop-daemon --stop --quiet --oknodo --pidfile "$LXCFS_PIDFILE" --name lxcfs --retry TERM/20/KILL/5
}

# Upgrade in place: SIGUSR1 has the keeper re-execute the binaries now on disk keeping the
# connection, so no read fails.  Waits (at most $1 seconds) until the report names this binary's
# version for the generation that serves.  0: done; 1: not done, and the report's last_upgrade
# (refused, failed, or nothing yet) is printed on stderr.
lxcfs_upgrade_live() {
	_want=$("$LXCFS_BIN" --version)
	_gen0=$(lxcfs_status_field generation)
	_last0=$(lxcfs_status_field last_upgrade)
	_pid=$(cat "$LXCFS_PIDFILE" 2>/dev/null) || _pid=
	case "$_pid" in '' | *[!0-9]*) return 1 ;; esac
	kill -USR1 "$_pid" || return 1
	_n=$(($1 * 10))
	while [ "$_n" -gt 0 ]; do
		_gen=$(lxcfs_status_field generation)
		_last=$(lxcfs_status_field last_upgrade)
		case "$_last" in
		"generation $_gen (lxcfs $_want) replaced"*)
			[ "${_gen:-0}" -gt "${_gen0:-0}" ] && return 0
			;;
		refused* | failed*)
			[ "$_last" != "$_last0" ] && break
			;;
		esac
		sleep 0.1
		_n=$((_n - 1))
	done
	echo "lxcfs: the running keeper did not upgrade to $_want: last_upgrade: ${_last:-none}" >&2
	return 1
}
