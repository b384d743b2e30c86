/* Run a program and capture its exit status, stdout and stderr (tests only). */
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "spawn_util.h"

extern char **environ;

static void slurp(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

void run_capture(struct run *r, char *const argv[], char *const envp[])
{
	posix_spawn_file_actions_t fa;
	FILE *out = tmpfile(), *err = tmpfile();
	pid_t pid;
	int st;

	cr_assert(out && err);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fileno(out), 1);
	posix_spawn_file_actions_adddup2(&fa, fileno(err), 2);
	cr_assert_eq(posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ), 0,
		     "cannot start %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}
