// SPDX-License-Identifier: GPL-2.0-only
#include "log.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_format format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_set_format(enum log_format f)
{
	format = f;
}

int log_format_parse(const char *s)
{
	if (!strcmp(s, "text"))
		return LOG_FORMAT_TEXT;
	if (!strcmp(s, "json"))
		return LOG_FORMAT_JSON;
	return -1;
}

void log_event(enum log_level level, const char *event, struct json_object *fields,
	       const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (format == LOG_FORMAT_TEXT) {
		fprintf(stderr, "speebpf: %s%s%s\n", level <= LOG_WARN ? level_names[level] : "",
			level <= LOG_WARN ? ": " : "", msg);
	} else {
		struct json_object *o = json_object_new_object();
		struct timespec ts;
		char when[64];
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", gmtime_r(&ts.tv_sec, &tm));
		snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ",
			 ts.tv_nsec / 1000000);
		json_object_object_add(o, "time", json_object_new_string(when));
		json_object_object_add(o, "level", json_object_new_string(level_names[level]));
		json_object_object_add(o, "event", json_object_new_string(event));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		if (fields) {
			json_object_object_foreach(fields, key, val)
				json_object_object_add(o, key, json_object_get(val));
		}
		fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	json_object_put(fields);
	fflush(stderr);
}
