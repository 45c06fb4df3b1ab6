/* TEMPORARY (issue 15, i15-proto): a minimal status_write until the integrator's status.c, which
 * replaces this file.  The text is byte for byte what the keeper wrote before, plus `tier:`. */
#include "reinit/status.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int status_write(const char *path, const struct status_rec *r)
{
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	dprintf(fd,
		"keeper_pid: %d\nkeeper_version: %s\nworker_pid: %d\nworker_version: %.31s\ngeneration: %llu\n"
		"restarts: %u\nlast_death: %s\nlast_upgrade: %s\nmountpoint: %s\nstate_version: %u\n"
		"recovery: resume=yes journal=yes resend=%s reinit=%s\nsnapshots_in_use: %u/%u\nkept_renders: %u\n"
		"virtualization: %s\ntier: %s\n",
		(int)r->keeper_pid, r->keeper_version, (int)r->worker_pid, r->worker_version,
		(unsigned long long)r->generation, r->restarts, r->last_death, r->last_upgrade, r->mountpoint,
		r->state_version, r->resend ? "yes" : "no", r->reinit ? "yes" : "no", r->snaps_in_use, r->nsnaps,
		r->kept_renders, r->virt_on ? "on" : "off", tier_name(r->tier));
	close(fd);
	return rename(tmp, path) < 0 ? -1 : 0;
}
