/* Logging: lines on stderr (journald under systemd, with the priority it records), one prefix, levels. */
#ifndef LXCFS_LOG_H
#define LXCFS_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_debug(bool on);
void log_set_prefix(const char *prefix);
bool log_debug_enabled(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "lxcfs: MESSAGE", an error of the command itself (a bad option, no daemon to ask): what the
 * user typed is at fault, not a running daemon, so no pid and level; still at error priority
 * in the journal, where a unit's bad ExecStart= line shows it. */
void log_cmdline_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                   \
	do {                                             \
		if (log_debug_enabled())                 \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
