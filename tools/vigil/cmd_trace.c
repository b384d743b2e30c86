/*
 * vigil trace SOCKET [--cr 0,3,4] [--msr LIST|all] [--pages RANGES] [--dma] [--json]
 *                    [--duration S] [--timeline FILE]
 * Attach, stream the requested events live, print counters and detach.
 */
#include <stdio.h>
#include <string.h>

#include "trace_run.h"
#include "vigil.h"

static void trace_usage(FILE *out)
{
	fprintf(out,
		"Usage: vigil trace [OPTIONS] SOCKET\n"
		"\n"
		"Attach to the introspection SOCKET of a running vigild and stream events\n"
		"live: control-register writes, MSR writes, accesses to guest-physical pages,\n"
		"device DMA.\n"
		"Every event is allowed; the guest only runs slower while watched. Ends when\n"
		"the VM stops, after --duration, or on Ctrl-C / SIGTERM, then prints per-kind\n"
		"counters and detaches (every intercept is removed, the guest runs on).\n"
		"\n"
		"%s"
		"\n"
		"Exit status: 0 ok (also when the VM stopped), 64 usage, 66 no such socket,\n"
		"69 vigild unavailable, another tool attached or the host cannot intercept\n"
		"what was asked, 74 connection lost or --timeline not writable, 76 not a\n"
		"vigil socket.\n", trace_opts_help);
}

int cmd_trace(int argc, char **argv)
{
	struct trace_opts o = { .timeout_ms = 5000 };
	int opt;

	while ((opt = getopt_long(argc, argv, TRACE_SHORT_OPTS, trace_long_opts, NULL)) != -1) {
		if (opt == 'h') {
			trace_usage(stdout);
			return VIGIL_EXIT_OK;
		}
		if (opt == '?' || trace_parse_opt(&o, opt, optarg, "trace"))
			return vigil_usage_error("trace");
	}
	if (argc - optind != 1) {
		vigil_err(argc - optind < 1 ? "trace: missing SOCKET" : "trace: too many arguments");
		return vigil_usage_error("trace");
	}
	if (!o.cr_mask && !o.nr_msrs && !o.nr_ranges && !o.dma) {
		vigil_err("trace: nothing to trace: give --cr, --msr, --pages or --dma");
		return vigil_usage_error("trace");
	}
	o.socket = argv[optind];
	return trace_run(&o);
}
