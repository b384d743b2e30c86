/* Harness of the vigil CLI tests: a real vigild running the demo guest with
 * an introspection socket, and real vigil processes whose output is parsed. */
#ifndef VIGIL_CLI_TEST_H
#define VIGIL_CLI_TEST_H

#include <stdbool.h>
#include <sys/types.h>

struct vm {
	pid_t pid;
	char dir[64];        /* temporary directory of this VM */
	char sock[128];
	char console[128];
	char log[128];
};

/* Start vigild with the demo guest; wait until the guest waits for a tool. */
void vm_start(struct vm *vm);
/* The same with another guest and more vigild arguments (NULL-terminated,
 * may be NULL); ready: console text that says the guest waits for a tool. */
void vm_start_guest(struct vm *vm, const char *guest, const char *const *extra,
		    const char *ready);
/* Wait for vigild (at most timeout_ms): exit status, or -1 after SIGKILL. */
int vm_wait(struct vm *vm, int timeout_ms);
/* Kill if still running, remove the files. */
void vm_free(struct vm *vm);
/* Contents of the guest console / vigild log (static buffer, NUL-terminated). */
const char *vm_console(const struct vm *vm);
const char *vm_log(const struct vm *vm);

struct run {
	pid_t pid;
	char out_path[96], err_path[128];
	char *out, *err;     /* after run_wait */
	int status;          /* exit status, 128+N for signal N, -1 timeout */
};

/* Spawn build/tools/vigil/vigil with argv (NULL-terminated, without argv[0]). */
void run_start(struct run *r, const char *const *argv);
/* Wait (at most timeout_ms, then SIGKILL) and read its output. */
void run_wait(struct run *r, int timeout_ms);
/* Start, wait, return the status. */
int run_vigil(struct run *r, int timeout_ms, const char *const *argv);
void run_free(struct run *r);

/* Read a whole file (malloc'd, NUL-terminated; "" if missing). */
char *slurp(const char *path);
/* Write text to a new file in @dir; returns the path (static per call site
 * via @buf). */
const char *write_file(char *buf, size_t len, const char *dir, const char *name,
		       const char *text);
/* Count occurrences of @needle in @hay. */
unsigned count_str(const char *hay, const char *needle);
long now_ms(void);

#endif
