# Debian's lxcfs package and what runs at /var/lib/lxcfs: what the suites that install packages
# over it (package.bats, lxd.bats) need to look at it and to put it back.  They set MNT to
# /var/lib/lxcfs and hold the machine-wide lock (helpers' devlock_take).

DEBIAN_VERSION=5.0.3-1+deb12u1

# DEBIAN_DEB: Debian's package, kept aside in the run's directory, so that the restore works
# without the network and after `apt-get clean`.
debian_deb_aside() {
	DEBIAN_DEB=$BATS_RUN_TMPDIR/lxcfs_$DEBIAN_VERSION.deb
	if [ ! -s "$DEBIAN_DEB" ]; then
		local cached=/var/cache/apt/archives/lxcfs_${DEBIAN_VERSION//:/%3a}_amd64.deb
		if [ -s "$cached" ]; then
			cp "$cached" "$DEBIAN_DEB"
		else
			(cd "$BATS_RUN_TMPDIR" && apt-get download -q "lxcfs=$DEBIAN_VERSION" >/dev/null 2>&1 &&
				mv lxcfs_*.deb "$DEBIAN_DEB") || rm -f "$DEBIAN_DEB"
		fi
	fi
	export DEBIAN_DEB
}

# The installed lxcfs package's version, empty if none is installed.
installed_version() {
	dpkg-query -W -f '${db:Status-Abbrev} ${Version}\n' lxcfs 2>/dev/null | awk '$1 == "ii" { print $2 }'
}

# dpkg itself, its output kept; stdin closed so a conffile question fails instead of waiting.
# Another user of the machine may be installing something else: its lock is waited for (10 min).
# Each run is bounded by $PKG_TIMEOUT seconds (default 900).
pkg() {
	local rc=1
	WAIT_STEP=1 wait_until 600 pkg_try "$@" || return 1
	return "$rc"
}

# pkg_try ARGS...: one run of dpkg (pkg's); fails if dpkg's lock was taken, else sets rc to
# dpkg's exit status.
pkg_try() {
	local out=$BATS_RUN_TMPDIR/dpkg.last
	echo "+ dpkg $*" >>"$BATS_RUN_TMPDIR/dpkg.log"
	rc=0
	DEBIAN_FRONTEND=noninteractive timeout "${PKG_TIMEOUT:-900}" dpkg "$@" </dev/null >"$out" 2>&1 || rc=$?
	cat "$out" >>"$BATS_RUN_TMPDIR/dpkg.log"
	refute grep -q 'lock was locked by another process' "$out"
}

# Installs our package $1 over whatever is installed; checks it is configured.
install_ours() {
	pkg -i "$1" || { tail -n 30 "$BATS_RUN_TMPDIR/dpkg.log" >&2; return 1; }
	[ "$(installed_version)" = "$(dpkg-deb -f "$1" Version)" ]
}

# The same through apt, as an upgrade goes: bounded, since a daemon holding apt's terminal or pipes
# would keep it waiting.
apt_install_ours() {
	echo "+ apt-get install $1" >>"$BATS_RUN_TMPDIR/dpkg.log"
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q -o DPkg::Lock::Timeout=600 --allow-downgrades "$1" \
		</dev/null >>"$BATS_RUN_TMPDIR/dpkg.log" 2>&1 || { tail -n 30 "$BATS_RUN_TMPDIR/dpkg.log" >&2; return 1; }
	[ "$(installed_version)" = "$(dpkg-deb -f "$1" Version)" ]
}

# A binary of the package file $1 (path $2 inside it) extracted to look at, before installing.
deb_binary() {
	local dir=$BATS_RUN_TMPDIR/extract-${1##*/}
	[ -d "$dir" ] || dpkg-deb -x "$1" "$dir"
	echo "$dir$2"
}

# Whether the lxcfs of package $2 lists --$1 in its help.
lxcfs_help_has() {
	"$(deb_binary "$2" /usr/bin/lxcfs)" --help 2>&1 | grep -q -e "^[[:space:]]*--$1[[:space:]]"
}

# --- what runs at the mountpoint -----------------------------------------------------------------

mounted() { awk -v m="$MNT" '$2 == m && $3 == "fuse.lxcfs" { f = 1 } END { exit !f }' /proc/self/mounts; }

# Processes running a program of either package (the file on disk, or one an upgrade replaced)
# for the mountpoint (their last argument; a re-executed keeper's too).  Others that run
# /usr/bin/lxcfs on a mountpoint of their own (lxc.bats starts Debian's that way) are not the
# package's business.
lxcfs_pids() {
	local d exe
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case "${exe% (deleted)}" in
		/usr/bin/lxcfs | /usr/libexec/lxcfs/lxcfs-worker) ;;
		*) continue ;;
		esac
		if [ "$(tr '\0' '\n' <"$d/cmdline" 2>/dev/null | tail -n 1)" = "$MNT" ]; then
			echo "${d#/proc/}"
		fi
	done
}

no_lxcfs_pids() { [ -z "$(lxcfs_pids)" ]; }

# Ends whatever of either package still runs and unmounts the mountpoint (a restore's last word).
end_daemons() {
	local p
	for p in $(lxcfs_pids); do kill -TERM "$p" 2>/dev/null || true; done
	WAIT_STEP=0.1 wait_until 5 no_lxcfs_pids || true # the rest are killed
	for p in $(lxcfs_pids); do kill -KILL "$p" 2>/dev/null || true; done
	while mounted; do umount -l "$MNT" || break; done
}

# Puts Debian's lxcfs back, installed and stopped, as the machine was: our package purged first
# (its prerm releases the containers and stops the daemon), anything left ended.
restore_debian() {
	local v
	v=$(installed_version)
	if [ "$v" != "$DEBIAN_VERSION" ] && dpkg-query -W lxcfs >/dev/null 2>&1; then
		pkg --purge --force-depends lxcfs || true
	fi
	if [ "$v" = "$DEBIAN_VERSION" ] && [ -x /etc/init.d/lxcfs ]; then
		/etc/init.d/lxcfs stop >/dev/null 2>&1 || true
	fi
	end_daemons
	# Debian's postinst sends SIGUSR1 to whatever /run/lxcfs.pid names.
	rm -f /run/lxcfs.pid /run/lxcfs.status
	if [ "$(installed_version)" != "$DEBIAN_VERSION" ]; then
		if [ -s "${DEBIAN_DEB:-}" ]; then
			pkg -i "$DEBIAN_DEB"
		else
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --allow-downgrades "lxcfs=$DEBIAN_VERSION" \
				</dev/null >>"$BATS_RUN_TMPDIR/dpkg.log" 2>&1
		fi
	fi
	[ "$(installed_version)" = "$DEBIAN_VERSION" ]
	refute mounted
	[ -z "$(lxcfs_pids)" ]
}

