/* Harness of the vigil CLI tests (see cli.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	size_t got;

	if (f) {
		do {
			if (cap - n < 4096) {
				cap = cap ? cap * 2 : 8192;
				buf = realloc(buf, cap);
				cr_assert_not_null(buf);
			}
			got = fread(buf + n, 1, cap - n - 1, f);
			n += got;
		} while (got);
		fclose(f);
	}
	if (!buf)
		buf = calloc(1, 1);
	buf[n] = '\0';
	return buf;
}

const char *write_file(char *buf, size_t len, const char *dir, const char *name,
		       const char *text)
{
	FILE *f;

	snprintf(buf, len, "%s/%s", dir, name);
	f = fopen(buf, "we");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return buf;
}

unsigned count_str(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static pid_t spawn(const char *path, char *const *argv, const char *out, const char *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_eq(posix_spawn(&pid, path, &fa, NULL, argv, environ), 0, "spawn %s", path);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

const char *vm_console(const struct vm *vm)
{
	static char *buf;

	free(buf);
	buf = slurp(vm->console);
	return buf;
}

const char *vm_log(const struct vm *vm)
{
	static char *buf;

	free(buf);
	buf = slurp(vm->log);
	return buf;
}

void vm_start(struct vm *vm)
{
	vm_start_guest(vm, DEMO_GUEST, NULL, "waiting for a vigil tool");
}

void vm_start_guest(struct vm *vm, const char *guest, const char *const *extra,
		    const char *ready)
{
	char *argv[32] = { (char *)VIGILD_PATH, "run", "--guest", (char *)guest, "--mem", "64M",
			   "--console", vm->console, "--introspect", vm->sock, NULL };
	long end = now_ms() + 20000;
	unsigned n = 10;

	memset(vm, 0, sizeof(*vm));
	snprintf(vm->dir, sizeof(vm->dir), "/tmp/vigil-cli-XXXXXX");
	cr_assert_not_null(mkdtemp(vm->dir));
	snprintf(vm->sock, sizeof(vm->sock), "%s/sock", vm->dir);
	snprintf(vm->console, sizeof(vm->console), "%s/console", vm->dir);
	snprintf(vm->log, sizeof(vm->log), "%s/log", vm->dir);
	argv[7] = vm->console;
	argv[9] = vm->sock;
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
	vm->pid = spawn(VIGILD_PATH, argv, "/dev/null", vm->log);
	while (!strstr(vm_console(vm), ready)) {
		if (now_ms() > end || waitpid(vm->pid, NULL, WNOHANG) == vm->pid)
			cr_assert_fail("the guest did not come up; log:\n%s", vm_log(vm));
		usleep(5000);
	}
}

static int wait_status(pid_t pid, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	int st;

	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(5000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int vm_wait(struct vm *vm, int timeout_ms)
{
	int st;

	if (!vm->pid)
		return -1;
	st = wait_status(vm->pid, timeout_ms);
	vm->pid = 0;
	return st;
}

void vm_free(struct vm *vm)
{
	char cmd[160];

	if (vm->pid)
		vm_wait(vm, 0);
	if (vm->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", vm->dir);
		cr_assert_eq(system(cmd), 0);
	}
	memset(vm, 0, sizeof(*vm));
}

void run_start(struct run *r, const char *const *argv)
{
	char *av[32];
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->out_path, sizeof(r->out_path), "/tmp/vigil-cli-out-%d-%ld", getpid(), now_ms());
	snprintf(r->err_path, sizeof(r->err_path), "%s.err", r->out_path);
	av[n++] = (char *)VIGIL_PATH;
	while (*argv && n < 31)
		av[n++] = (char *)*argv++;
	av[n] = NULL;
	r->pid = spawn(VIGIL_PATH, av, r->out_path, r->err_path);
}

void run_wait(struct run *r, int timeout_ms)
{
	r->status = wait_status(r->pid, timeout_ms);
	r->pid = 0;
	r->out = slurp(r->out_path);
	r->err = slurp(r->err_path);
	unlink(r->out_path);
	unlink(r->err_path);
}

int run_vigil(struct run *r, int timeout_ms, const char *const *argv)
{
	run_start(r, argv);
	run_wait(r, timeout_ms);
	return r->status;
}

void run_free(struct run *r)
{
	if (r->pid)
		run_wait(r, 0);
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}
