/* Process helpers for the fault-injection tests. */
#ifndef VIGIL_FAULT_UTIL_H
#define VIGIL_FAULT_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* Start @argv[0] with stdout on a pipe (*out_fd, non-blocking), stderr
 * appended to @log (NULL: /dev/null) and /dev/null on fd 60 without
 * O_CLOEXEC (an fd a careless parent leaves open). Returns the pid. */
pid_t fault_spawn(char *const argv[], int *out_fd, const char *log);
/* Read one line from @fd within @timeout_ms: its length, 0 on timeout or EOF. */
size_t fault_read_line(int fd, char *buf, size_t len, int timeout_ms);
/* Wait up to @timeout_ms for @pid to exit: true with *status (waitpid form). */
bool fault_wait(pid_t pid, int timeout_ms, int *status);
/* Children of ours that are not @except: reaped, and counted (orphans
 * reparented to this subreaper process). */
int fault_reap_orphans(pid_t except);
/* Milliseconds on the monotonic clock. */
long fault_now_ms(void);
/* Open fds of @pid (all kinds). */
int fault_count_fds(pid_t pid);

/* A read-only fd on @pid's guest RAM memfd (offset = guest physical address
 * below the MMIO hole), opened through /proc: lets a test watch the guest
 * without attaching anything to vigild. -errno. */
int fault_guest_ram_fd(pid_t pid);

#endif
