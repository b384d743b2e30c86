/*
 * The attached session behind vigil trace and vigil policy: set up the
 * intercepts, stream events until the VM stops, the duration ends or a
 * signal arrives (SIGINT, SIGTERM, SIGHUP), answer each one (ALLOW, or the
 * policy's verdict), then detach so the guest runs on unwatched.
 *
 * A guest may wait for the tool: a 32-bit OUT of VIGIL_CLI_HELLO to the
 * hypercall port (VIGIL_KVMI_HYPERCALL_PORT) is answered, once everything is
 * set up, by writing VIGIL_CLI_READY into the guest's RAX (docs/cli.md).
 */
#ifndef VIGIL_TRACE_RUN_H
#define VIGIL_TRACE_RUN_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

#define VIGIL_CLI_HELLO 0x56474c31u
#define VIGIL_CLI_READY 0x52454459u

#define TRACE_MAX_MSRS  64
#define TRACE_MAX_RANGES 64

struct trace_range {
	uint64_t start, end;   /* guest-physical [start, end) */
	uint8_t watch;         /* VIGIL_KVMI_PAGE_* accesses to report */
};

struct trace_opts {
	const char *socket;
	unsigned cr_mask;                 /* bit n: CRn (0, 3, 4) */
	uint32_t msrs[TRACE_MAX_MSRS];
	unsigned nr_msrs;
	struct trace_range ranges[TRACE_MAX_RANGES];
	unsigned nr_ranges;
	bool json;
	bool dma;                         /* show device DMA (vfio-user trace-dma=on) */
	double duration;                  /* seconds; 0: until the VM stops */
	const char *timeline;
	int timeout_ms;                   /* attach timeout */
	struct policy *policy;            /* vigil policy; NULL for vigil trace */
};

/* Options shared by trace and policy (getopt_long table and short string). */
extern const struct option trace_long_opts[];
#define TRACE_SHORT_OPTS "c:m:p:jd:T:t:h"
/* Apply one parsed option; prints and returns -EINVAL when bad. */
int trace_parse_opt(struct trace_opts *o, int opt, const char *arg, const char *cmd);
/* The option help shared by both commands. */
extern const char trace_opts_help[];

/* Run the session; returns vigil's exit status. */
int trace_run(const struct trace_opts *o);

struct trace_out;
/* trace_dma.c: show a DMA event and, when the device waits (the page policy
 * denies it), answer it: ALLOW for vigil trace, the violated rule's verdict
 * for vigil policy. 0 or -errno from the connection. */
int trace_dma_event(struct trace_out *out, const struct trace_opts *o, struct vigil_kvmi *c,
		    const struct vigil_kvmi_ev *ev, double ts);

#endif
