/* Processes for the interoperability tests (see interop_util.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interop_util.h"

pid_t interop_spawn_stdin(char *const argv[], const char *log, int *stdin_w)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (stdin_w && pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int in = stdin_w ? p[0] : open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (stdin_w) {
		close(p[0]);
		if (pid < 0)
			close(p[1]);
		else
			*stdin_w = p[1];
	}
	return pid;
}

pid_t interop_spawn(char *const argv[], const char *log)
{
	return interop_spawn_stdin(argv, log, NULL);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool interop_wait_socket(const char *path, pid_t pid, int ms)
{
	struct stat st;

	for (int t = 0; t < ms; t += 5) {
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return true;
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		sleep_ms(5);
	}
	return false;
}

int interop_wait_exit(pid_t pid, int ms)
{
	int st;

	for (int t = 0; t < ms; t += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

void interop_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

char *interop_slurp(const char *path)
{
	static char buf[64 * 1024];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

void interop_cache_path(char *buf, size_t len, const char *sub)
{
	const char *env = getenv("VIGIL_INTEROP_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (env)
		snprintf(buf, len, "%s/%s", env, sub);
	else if (xdg)
		snprintf(buf, len, "%s/vigil-interop/%s", xdg, sub);
	else
		snprintf(buf, len, "%s/.cache/vigil-interop/%s", home ? home : "/root", sub);
}

int interop_run_vigild(const char *vigild, const char *guest, const char *console,
		       const char *log, const char (*socks)[INTEROP_SOCK_LEN], unsigned n,
		       const char *opts, int ms)
{
	char specs[INTEROP_MAX_DEVS][INTEROP_SOCK_LEN + 64], con[200];
	char *argv[8 + 2 * INTEROP_MAX_DEVS];
	unsigned a = 0;

	if (n > INTEROP_MAX_DEVS)
		return -1;
	argv[a++] = (char *)vigild;
	argv[a++] = (char *)"run";
	argv[a++] = (char *)"--guest";
	argv[a++] = (char *)guest;
	snprintf(con, sizeof(con), "--console=%s", console);
	argv[a++] = con;
	for (unsigned i = 0; i < n; i++) {
		snprintf(specs[i], sizeof(specs[i]), "vfio-user,socket=%s%s", socks[i], opts);
		argv[a++] = (char *)"--device";
		argv[a++] = specs[i];
	}
	argv[a] = NULL;
	return interop_wait_exit(interop_spawn(argv, log), ms);
}
