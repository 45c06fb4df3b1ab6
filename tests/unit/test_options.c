#include "check.h"
#include <sys/mount.h>

#include "lib/options.h"

static int parse(struct options *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "lxcfs";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return options_parse(o, argc, argv);
}

int main(void)
{
	struct options o;
	CHECK_INT(parse(&o, (const char *[]){ "-l", "-u", "--enable-cfs", "-p", "/tmp/x.pid", "/mnt", NULL }), 0);
	CHECK(o.loadavg && o.swap_off && o.cfs);
	CHECK_STR(o.pidfile, "/tmp/x.pid");
	CHECK_STR(o.mountpoint, "/mnt");
	CHECK_STR(o.runtime_dir, "/run");
	options_free(&o);

	/* forced options are dropped, kernel options kept, vfs flags become mount flags */
	CHECK_INT(parse(&o, (const char *[]){ "-o", "allow_other,default_permissions,entry_timeout=5,direct_io",
					    "-o", "ro,max_read=65536", "/mnt", NULL }),
		  0);
	CHECK_STR(o.fuse_opts, "default_permissions,max_read=65536");
	CHECK(o.mount_flags & MS_RDONLY);
	options_free(&o);

	CHECK_INT(parse(&o, (const char *[]){ "-o", "bogus_option", "/mnt", NULL }), -1);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ NULL }), -1);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "/a", "/b", NULL }), -1);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "--threads", "0", "/mnt", NULL }), -1);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "--runtime-dir", "/tmp/rt", "-s", "-f", "--enable-pidfd", "/m", NULL }), 0);
	CHECK_STR(o.runtime_dir, "/tmp/rt");
	options_free(&o);
	/* a parse refused inside a cluster of short options ("-zu": z is unknown) leaves nothing
	 * behind for the next one: no -u from the old argv (found by fuzzing) */
	CHECK_INT(parse(&o, (const char *[]){ "-zu", "/mnt", NULL }), -1);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "/mnt", NULL }), 0);
	CHECK(!o.swap_off);
	/* a read-only superblock by default (no GETATTR per read); read-write where something is
	 * written (PSI triggers) or asked for */
	CHECK(o.mount_flags & MS_RDONLY);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "--enable-psi-poll", "/mnt", NULL }), 0);
	CHECK(!(o.mount_flags & MS_RDONLY));
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "-o", "rw", "/mnt", NULL }), 0);
	CHECK(!(o.mount_flags & MS_RDONLY));
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "--enable-psi-poll", "-o", "ro", "/mnt", NULL }), 0);
	CHECK(o.mount_flags & MS_RDONLY);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "--version", NULL }), 1);
	options_free(&o);
	/* upstream's: -n prints the help as 4.0/5.0's usage says; --disable-zswap works;
	 * --enable-cgroup (6.0's cgroupfs emulation) is refused */
	CHECK_INT(parse(&o, (const char *[]){ "-n", NULL }), 1);
	CHECK(o.help);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "--disable-zswap", "/mnt", NULL }), 0);
	CHECK(o.zswap_off && !o.swap_off);
	options_free(&o);
	CHECK_INT(parse(&o, (const char *[]){ "--enable-cgroup", "/mnt", NULL }), -1);
	options_free(&o);
	CHECK_DONE();
}
