# Shared by the benchmark scripts: the readers' "container" cgroup (every cpu, 256 MiB).

# bench_cgroup NAME: creates it; sets $enter to shell code that moves $$ into it.
bench_cgroup() {
	local cg=$1
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		mkdir /sys/fs/cgroup/$cg
		echo $((256 << 20)) >/sys/fs/cgroup/$cg/memory.max
	else
		for c in memory cpuset cpu cpuacct blkio; do mkdir -p /sys/fs/cgroup/$c/$cg; done
		echo $((256 << 20)) >/sys/fs/cgroup/memory/$cg/memory.limit_in_bytes
		cat /sys/fs/cgroup/cpuset/cpuset.mems >/sys/fs/cgroup/cpuset/$cg/cpuset.mems
		cat /sys/fs/cgroup/cpuset/cpuset.cpus >/sys/fs/cgroup/cpuset/$cg/cpuset.cpus
	fi
	bench_cgroup_enter "$cg"
}

# bench_cgroup_enter NAME: sets $enter to shell code that moves $$ into that (made) cgroup.
bench_cgroup_enter() {
	local cg=$1
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		enter="echo \$\$ > /sys/fs/cgroup/$cg/cgroup.procs"
	else
		enter="for c in memory cpuset cpu cpuacct blkio; do echo \$\$ > /sys/fs/cgroup/\$c/$cg/cgroup.procs; done"
	fi
}

bench_cgroup_remove() {
	local cg=$1 c
	for c in memory cpuset cpu cpuacct blkio; do rmdir /sys/fs/cgroup/$c/$cg 2>/dev/null || true; done
	rmdir /sys/fs/cgroup/$cg 2>/dev/null || true
}

# in_container CMD: runs CMD in its own pid namespace inside the cgroup.
in_container() { sh -c "$enter; exec unshare --pid --fork --mount-proc $*"; }

# release_build: what users run, without the test-only fault hooks.
release_build() {
	[ -d build-release ] || meson setup build-release --buildtype=release >/dev/null
	ninja -C build-release >/dev/null
}
