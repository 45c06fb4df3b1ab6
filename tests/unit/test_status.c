/* The status record: what the keeper writes, `lxcfs --status` reads back field for field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "reinit/status.h"

static char *slurp(const char *path)
{
	static char text[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = '\0';
	return text;
}

int main(void)
{
	struct status_rec r = { .keeper_pid = 41, .worker_pid = 42, .generation = 7, .restarts = 3,
				.state_version = 1, .resend = true, .reinit = false, .tier = TIER_REINIT,
				.snaps_in_use = 2, .nsnaps = 1024, .kept_renders = 5, .virt_on = false,
				.slots_in_use = 9, .nslots = 48, .slots_dead = 1 };
	strcpy(r.keeper_version, "0.1.0");
	strcpy(r.worker_version, "0.1.0-next");
	strcpy(r.last_death, "worker 40 (generation 6) killed by signal 9 (Killed)");
	strcpy(r.last_upgrade, "refused: state of another format version");
	strcpy(r.mountpoint, "/var/lib/lxcfs");

	char path[] = "/tmp/test_status.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK(status_write(path, &r) == 0);
	const char *text = slurp(path);
	/* the text operators and scripts read, line for line */
	CHECK(strstr(text, "keeper_pid: 41\nkeeper_version: 0.1.0\nworker_pid: 42\n") == text);
	CHECK(strstr(text, "\nrecovery: resume=yes journal=yes resend=yes reinit=no\n"));
	CHECK(strstr(text, "\nsnapshots_in_use: 2/1024\nkept_renders: 5\nvirtualization: off\ntier: reinit\n"));
	CHECK(strstr(text, "\njournal_slots_in_use: 9/48\njournal_slots_dead: 1\n"));
	CHECK(strstr(text, "\nlast_upgrade: refused: state of another format version\n"));

	struct status_rec back;
	CHECK(status_read(text, &back) == 0);
	CHECK_INT(back.keeper_pid, 41);
	CHECK_INT(back.worker_pid, 42);
	CHECK_U64(back.generation, 7);
	CHECK_INT(back.restarts, 3);
	CHECK_STR(back.worker_version, "0.1.0-next");
	CHECK_STR(back.last_death, r.last_death);
	CHECK_STR(back.last_upgrade, r.last_upgrade);
	CHECK_STR(back.mountpoint, "/var/lib/lxcfs");
	CHECK(back.resend && !back.reinit && !back.virt_on);
	CHECK_INT(back.tier, TIER_REINIT);
	CHECK_INT(back.snaps_in_use, 2);
	CHECK_INT(back.nsnaps, 1024);
	CHECK_INT(back.kept_renders, 5);
	CHECK_INT(back.slots_in_use, 9);
	CHECK_INT(back.nslots, 48);
	CHECK_INT(back.slots_dead, 1);

	/* a keeper from before the tier line: read, tier taken as resume */
	char old[8192];
	snprintf(old, sizeof(old), "%s", text);
	*strstr(old, "tier: reinit\n") = '\0';
	CHECK(status_read(old, &back) == 0 && back.tier == TIER_RESUME);
	/* nor the journal's lines (the fraction's parts both from their own line) */
	snprintf(old, sizeof(old), "%s", text);
	*strstr(old, "journal_slots_in_use: ") = '\0';
	CHECK(status_read(old, &back) == 0 && back.nslots == 0 && back.nsnaps == 1024);
	/* a newer keeper's extra field is passed over */
	char newer[8300];
	snprintf(newer, sizeof(newer), "%sfuture_field: 12\n", text);
	CHECK(status_read(newer, &back) == 0);

	/* damage: garbage, a missing field, a bad number, a repeated field, an unknown tier */
	CHECK(status_read("garbage\n", &back) < 0);
	CHECK(status_read("", &back) < 0);
	char bad[8300];
	snprintf(bad, sizeof(bad), "%s", text);
	*strstr(bad, "restarts: 3\n") = 'X';
	CHECK(status_read(bad, &back) < 0);
	snprintf(bad, sizeof(bad), "%s", text);
	memcpy(strstr(bad, "generation: 7"), "generation: x", 13);
	CHECK(status_read(bad, &back) < 0);
	snprintf(bad, sizeof(bad), "%sworker_pid: 43\n", text);
	CHECK(status_read(bad, &back) < 0);
	snprintf(bad, sizeof(bad), "%s", text);
	memcpy(strstr(bad, "tier: reinit"), "tier: banana", 12);
	CHECK(status_read(bad, &back) < 0);
	snprintf(bad, sizeof(bad), "%s", text);
	memcpy(strstr(bad, "resend=yes"), "resend=maybe", 10);
	CHECK(status_read(bad, &back) < 0);
	snprintf(bad, sizeof(bad), "%s", text);
	memcpy(strstr(bad, "9/48"), "9-48", 4);
	CHECK(status_read(bad, &back) < 0);

	unlink(path);
	CHECK_DONE();
}
