/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * log.h - one line per event on stderr for the agent: plain text by
 * default, or one JSON object per line (--log-format json) for log
 * shippers. journald adds its own timestamps, so text lines carry none.
 */
#ifndef SPEE_LOG_H
#define SPEE_LOG_H

#include <stdarg.h>

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

struct json_object;

void log_set_format(enum log_format f);

/* "text" or "json"; returns -1 for anything else. */
int log_format_parse(const char *s);

/*
 * Logs event `event` (a short fixed word such as "applied" or
 * "config-error") with a sentence for people. fields (may be NULL) adds
 * machine-readable members to the JSON form; it is consumed.
 */
void log_event(enum log_level level, const char *event, struct json_object *fields,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
