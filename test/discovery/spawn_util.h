/* Run a program and capture its exit status, stdout and stderr (tests only). */
#ifndef VIGIL_TEST_SPAWN_UTIL_H
#define VIGIL_TEST_SPAWN_UTIL_H

struct run {
	int status;          /* exit status, or 128 + signal */
	char out[16384];     /* stdout, NUL-terminated, truncated to fit */
	char err[16384];     /* stderr, likewise */
};

/* Run @argv (argv[0] searched in PATH) in @envp (NULL: this environment);
 * asserts that it could be started. */
void run_capture(struct run *r, char *const argv[], char *const envp[]);

#endif
