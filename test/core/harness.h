/* Helpers for integration tests: run vigild as a real process, or boot a
 * guest in-process with the VM core. */
#ifndef VIGIL_TEST_HARNESS_H
#define VIGIL_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "guest_ports.h"
#include "kvm_host.h"
#include "reactor.h"
#include "vm.h"

struct proc_result {
	int status;          /* exit status, or 128+signal */
	bool timed_out;
	char out[16384];     /* stdout */
	char err[16384];     /* stderr */
};

/* Spawn argv[0] (NULL-terminated), collect output, wait at most timeout_ms
 * (then SIGKILL, timed_out = true). Returns 0 or -errno. */
int proc_run(char *const argv[], int timeout_ms, struct proc_result *res);

/* Spawn without waiting; stdout/stderr go to pipes returned in fds. */
int proc_spawn(char *const argv[], pid_t *pid, int *out_fd, int *err_fd);
/* Wait for @pid up to timeout_ms, reading both pipes into res. */
int proc_wait(pid_t pid, int out_fd, int err_fd, int timeout_ms, struct proc_result *res);

/* Path of a guest ELF built from test/core/guests (e.g. "hello"). */
const char *core_guest(const char *name);
extern const char *const vigild_path;

/* An in-process VM booting a test guest; console captured in memory. */
struct tvm {
	struct kvm_host kvm;
	struct vm *vm;
	struct reactor reactor;
	struct guest_ports ports;
	struct event *timeout_ev;
	FILE *console;
	char *console_buf;
	size_t console_len;
};

int tvm_boot(struct tvm *t, const char *guest, unsigned nr_vcpus, uint64_t mem);
/* Same, with the vCPUs' poll-before-sleep time (0: the default). */
int tvm_boot_spin(struct tvm *t, const char *guest, unsigned nr_vcpus, uint64_t mem,
		  unsigned spin_us);
/* Run until the VM stops or timeout_ms passes (the VM is then stopped with
 * status -1). Returns the VM's stop status. */
int tvm_run(struct tvm *t, int timeout_ms);
void tvm_free(struct tvm *t);

#endif
