/*
 * vigil policy SOCKET FILE [trace options]: enforce a page-access policy
 * file (docs/cli.md) until the VM stops or a signal, reporting every
 * violation with vCPU, RIP, address and access.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "trace_run.h"
#include "vigil.h"

static void policy_usage(FILE *out)
{
	fprintf(out,
		"Usage: vigil policy [OPTIONS] SOCKET FILE\n"
		"\n"
		"Enforce the page-access policy in FILE on the VM behind the introspection\n"
		"SOCKET. Each rule names a guest-physical range (\"gpa\") or a guest-virtual\n"
		"range with the CR3 of its address space (\"gva\", \"cr3\"), the rights allowed\n"
		"(\"allow\": letters of \"rwx\") and what a violation does (\"on_violation\"):\n"
		"  deny   the access does not happen: a write is dropped, a read returns\n"
		"         zeros, an instruction fetch gets a page fault in the guest\n"
		"  log    the access happens and is reported\n"
		"  crash  the VM stops (vigild exits with status 82)\n"
		"Every violation is reported with vCPU, RIP, address and access. A file with\n"
		"any error is rejected as a whole, naming the line or key, and nothing is\n"
		"applied. The format is described in docs/cli.md and vigil(1).\n"
		"\n"
		"The trace options below also stream those events, as vigil trace does\n"
		"(only one tool can be attached to a VM at a time).\n"
		"\n"
		"%s"
		"\n"
		"Exit status: 0 ok (also when the VM stopped), 64 usage, 65 invalid policy\n"
		"file or a GVA not mapped, 66 no such socket or file, 69 vigild unavailable,\n"
		"another tool attached or the host cannot enforce it, 74 connection lost,\n"
		"76 not a vigil socket.\n", trace_opts_help);
}

int cmd_policy(int argc, char **argv)
{
	struct trace_opts o = { .timeout_ms = 5000 };
	char err[512];
	int opt, r, status;

	while ((opt = getopt_long(argc, argv, TRACE_SHORT_OPTS, trace_long_opts, NULL)) != -1) {
		if (opt == 'h') {
			policy_usage(stdout);
			return VIGIL_EXIT_OK;
		}
		if (opt == '?' || trace_parse_opt(&o, opt, optarg, "policy"))
			return vigil_usage_error("policy");
	}
	if (argc - optind != 2) {
		vigil_err(argc - optind < 2 ? "policy: expected SOCKET FILE" : "policy: too many arguments");
		return vigil_usage_error("policy");
	}
	r = policy_load(argv[optind + 1], &o.policy, err, sizeof(err));
	if (r) {
		vigil_err("%s", err);
		return r == -ENOENT || r == -EACCES ? VIGIL_EXIT_NOINPUT :
		       r == -ENOMEM ? VIGIL_EXIT_OSERR : VIGIL_EXIT_DATAERR;
	}
	o.socket = argv[optind];
	status = trace_run(&o);
	policy_free(&o.policy);
	return status;
}
