/* Leveled logging for vigild. Libraries (client/) never print. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

enum vg_log_level { VG_LOG_ERR = 0, VG_LOG_WARN, VG_LOG_INFO, VG_LOG_DEBUG };

void vg_log_set_level(enum vg_log_level level);
enum vg_log_level vg_log_get_level(void);
void vg_log(enum vg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)   vg_log(VG_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  vg_log(VG_LOG_WARN, __VA_ARGS__)
#define log_info(...)  vg_log(VG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)

#endif
