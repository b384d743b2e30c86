/* Processes for the interoperability tests: servers, vigild, their logs. */
#ifndef INTEROP_UTIL_H
#define INTEROP_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* fork + exec @argv with stdout and stderr to @log, stdin from /dev/null;
 * the child dies with the test (PR_SET_PDEATHSIG). */
pid_t interop_spawn(char *const argv[], const char *log);
/* The same with stdin from a pipe whose write end goes to *@stdin_w (for a
 * server that waits on its stdin, like libvfio-user's null sample). */
pid_t interop_spawn_stdin(char *const argv[], const char *log, int *stdin_w);
/* Wait up to @ms for a UNIX socket at @path; false if none appeared or
 * @pid (if > 0) exited first. */
bool interop_wait_socket(const char *path, pid_t pid, int ms);
/* Wait up to @ms for @pid; its exit status (128 + signal if killed by
 * one), or -1 after SIGKILL when it did not end in time. */
int interop_wait_exit(pid_t pid, int ms);
void interop_kill(pid_t *pid);
/* Socket path buffers of the suites: char sock[N][INTEROP_SOCK_LEN]. */
#define INTEROP_SOCK_LEN 128
#define INTEROP_MAX_DEVS 8
/* Run @vigild with guest @guest and one --device vfio-user per socket (@opts
 * appended to each spec), the console to @console and stdout/stderr to @log.
 * Its exit status, or -1 after SIGKILL when it did not end within @ms. */
int interop_run_vigild(const char *vigild, const char *guest, const char *console,
		       const char *log, const char (*socks)[INTEROP_SOCK_LEN], unsigned n,
		       const char *opts, int ms);
/* The first 64 KiB of @path, NUL-terminated (a static buffer). */
char *interop_slurp(const char *path);
/* A cache directory: $VIGIL_INTEROP_CACHE, else $XDG_CACHE_HOME/vigil-interop,
 * else $HOME/.cache/vigil-interop, with @sub appended. */
void interop_cache_path(char *buf, size_t len, const char *sub);

#endif
