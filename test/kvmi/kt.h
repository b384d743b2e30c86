/* Introspection test harness: a real vigild process running the test guest
 * with --introspect, driven through libvigil_kvmi from the test process. */
#ifndef VIGIL_KT_H
#define VIGIL_KT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvmi_test_abi.h"
#include "vigil_kvmi.h"

struct kt {
	pid_t pid;
	int err_fd;               /* vigild's stderr (log) */
	char sock[108];
	char log[32768];
	size_t log_len;
	struct vigil_kvmi *c;
	struct kt_ctl ctl;        /* after kt_ready */
};

/* Start vigild (nr_vcpus, answer timeout in ms or 0 for the default) and
 * connect. Criterion-asserts on failure. */
void kt_start(struct kt *t, unsigned nr_vcpus, int timeout_ms);
/* Start vigild without connecting. */
void kt_spawn(struct kt *t, unsigned nr_vcpus, int timeout_ms);
void kt_spawn_mem(struct kt *t, unsigned nr_vcpus, int timeout_ms, const char *mem);
/* The same with more vigild arguments (NULL-terminated; NULL for none). */
void kt_spawn_args(struct kt *t, unsigned nr_vcpus, int timeout_ms, const char *mem,
		   const char *const *extra);
/* Read what vigild logged so far into t->log. */
void kt_drain_log(struct kt *t);
int kt_connect(struct kt *t, struct vigil_kvmi **c);
/* Wait for vCPU 0 to publish the control block; read it into t->ctl. */
void kt_ready(struct kt *t);
/* Choose the scenario and let the guest go. */
void kt_go(struct kt *t, unsigned scenario);
void kt_set_stop(struct kt *t);
/* Wait for vigild to exit (at most timeout_ms); returns the status, or -1
 * after SIGKILL on timeout. The log is collected into t->log. */
int kt_wait(struct kt *t, int timeout_ms);
/* SIGTERM and wait. */
int kt_stop(struct kt *t);
void kt_free(struct kt *t);
/* Next event (asserts one arrives within timeout_ms). */
void kt_event(struct kt *t, struct vigil_kvmi_ev *ev, int timeout_ms);
uint64_t kt_read64(struct kt *t, uint64_t gpa);

#endif
