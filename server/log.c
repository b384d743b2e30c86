/* Leveled logging to stderr, one line per call, with a level tag. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static enum vg_log_level log_level = VG_LOG_INFO;

void vg_log_set_level(enum vg_log_level level)
{
	log_level = level;
}

enum vg_log_level vg_log_get_level(void)
{
	return log_level;
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
	static const char *const tag[] = { "error", "warning", "info", "debug" };
	char line[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line keeps lines from different threads whole. */
	fprintf(stderr, "vigild: %s: %s\n", tag[level], line);
}
