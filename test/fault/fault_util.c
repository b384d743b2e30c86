/* Process helpers for the fault-injection tests (see fault_util.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault_util.h"

long fault_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

pid_t fault_spawn(char *const argv[], int *out_fd, const char *log)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int err = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)
			      : open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive a failed test */
		dup2(p[1], 1);
		if (err >= 0)
			dup2(err, 2);
		/* An fd inherited without O_CLOEXEC, as from a careless parent:
		 * whatever vigild spawns must not get it. */
		dup2(open("/dev/null", O_RDONLY), 60);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	*out_fd = p[0];
	return pid;
}

size_t fault_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	long end = fault_now_ms() + timeout_ms;
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = end - fault_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return 0;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return n;
		}
		n++;
	}
	buf[n] = '\0';
	return n;
}

bool fault_wait(pid_t pid, int timeout_ms, int *status)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	bool done;

	if (pfd < 0)
		return waitpid(pid, status, WNOHANG) == pid;
	done = poll(&p, 1, timeout_ms) == 1;
	close(pfd);
	return done && waitpid(pid, status, 0) == pid;
}

int fault_reap_orphans(pid_t except)
{
	int n = 0, st;
	pid_t r;

	(void)except;
	while ((r = waitpid(-1, &st, WNOHANG)) > 0)
		if (r != except)
			n++;
	return n;
}

int fault_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return pid == getpid() ? n - 1 : n;
}

int fault_guest_ram_fd(pid_t pid)
{
	char dir[64], path[320], target[256];
	struct dirent *de;
	int fd = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while (fd < 0 && (de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		if (strstr(target, "memfd:vigil-guest-ram"))
			fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	closedir(d);
	return fd >= 0 ? fd : -ENOENT;
}
