#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool debug_on;
static char prefix[32] = "lxcfs";

void log_set_debug(bool on)
{
	debug_on = on;
}

bool log_debug_enabled(void)
{
	return debug_on;
}

void log_set_prefix(const char *p)
{
	snprintf(prefix, sizeof(prefix), "%s", p);
}

/*
 * Is stderr systemd's journal stream?  systemd names the stream it connected in
 * $JOURNAL_STREAM ("device:inode"); a line there may start with "<N>", the syslog priority,
 * which journald takes off and records (journalctl -p).  Checked for each line: stderr may
 * have been pointed elsewhere since (a log file), and the environment passes to children.
 */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const int syslog_prio[] = { 3, 4, 6, 7 }; /* by enum log_level */

/* One line: the journal's priority mark where stderr is the journal, head, the message. */
static __attribute__((format(printf, 3, 0))) void emit(enum log_level lvl, const char *head, const char *fmt,
							va_list ap)
{
	char line[1024], mark[8] = "";
	if (stderr_is_journal())
		snprintf(mark, sizeof(mark), "<%d>", syslog_prio[lvl]);
	int n = snprintf(line, sizeof(line), "%s%s", mark, head);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so lines of concurrent threads never interleave. */
	ssize_t r = write(STDERR_FILENO, line, (size_t)n);
	(void)r;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char head[64];
	snprintf(head, sizeof(head), "%s[%d]: %s: ", prefix, (int)getpid(), names[lvl]);
	va_list ap;
	va_start(ap, fmt);
	emit(lvl, head, fmt, ap);
	va_end(ap);
}

void log_cmdline_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(LOG_LVL_ERROR, "lxcfs: ", fmt, ap);
	va_end(ap);
}
