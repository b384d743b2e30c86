/* vigil trace against the demo guest: table and JSON output parsed back, the
 * Perfetto timeline, --pages, --duration, and SIGINT detaching mid-trace. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static struct vm vm;
static struct run r;

static void fini(void)
{
	run_free(&r);
	vm_free(&vm);
}

TestSuite(cli_trace, .fini = fini, .timeout = 120);

struct row {
	double t;
	unsigned vcpu;
	char kind[16], rip[20], detail[200];
};

/* Parse the table rows (not comments, not the header). */
static unsigned parse_rows(const char *out, struct row *rows, unsigned max)
{
	unsigned n = 0;
	const char *p = out;

	while (*p && n < max) {
		const char *eol = strchr(p, '\n');
		char line[512];
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		int off = 0;

		snprintf(line, sizeof(line), "%.*s", (int)(len < 511 ? len : 511), p);
		p += len + (eol ? 1 : 0);
		if (line[0] == '#' || strstr(line, " TIME VCPU EVENT") || !line[0])
			continue;
		cr_assert_eq(sscanf(line, "%lf %u %15s %19s %n", &rows[n].t, &rows[n].vcpu,
				    rows[n].kind, rows[n].rip, &off), 4, "bad row: %s", line);
		snprintf(rows[n].detail, sizeof(rows[n].detail), "%s", line + off);
		n++;
	}
	return n;
}

static unsigned summary_count(const char *out, const char *kind)
{
	const char *s = strstr(out, "; events:");
	char key[32];
	unsigned v = 0;

	cr_assert_not_null(s, "no summary:\n%s", out);
	snprintf(key, sizeof(key), " %s ", kind);
	s = strstr(s, key);
	if (s)
		sscanf(s + strlen(key), "%u", &v);
	return v;
}

Test(cli_trace, table_output_parsed_back)
{
	const char *argv[] = { "trace", "--cr", "3", "--msr", "all", NULL, NULL };
	struct row rows[128];
	unsigned n, ncr3 = 0, nmsr = 0;
	unsigned long long prev_new = 0, old, nw;
	bool lstar = false;

	vm_start(&vm);
	argv[5] = vm.sock;
	cr_assert_eq(run_vigil(&r, 90000, argv), 0, "stderr: %s", r.err);
	n = parse_rows(r.out, rows, 128);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			cr_assert_geq(rows[i].t, rows[i - 1].t, "time goes forward");
		if (!strcmp(rows[i].kind, "cr3")) {
			cr_assert_eq(sscanf(rows[i].detail, "cr3 0x%llx -> 0x%llx", &old, &nw), 2);
			if (ncr3++)
				cr_assert_eq(old, prev_new, "each switch starts where the last ended");
			prev_new = nw;
		} else if (!strcmp(rows[i].kind, "msr")) {
			nmsr++;
			lstar |= !strncmp(rows[i].detail, "LSTAR 0xc0000082 0x0 -> 0x4", 27);
		}
	}
	cr_assert_geq(ncr3, 8, "CR3 switches between the processes:\n%s", r.out);
	cr_assert(strstr(r.out, "-> 0x330000"), "the rootkit's address space ran");
	cr_assert_eq(nmsr, 5, "EFER STAR LSTAR CSTAR SFMASK:\n%s", r.out);
	cr_assert(lstar, "LSTAR set to the kernel entry:\n%s", r.out);
	cr_assert_eq(summary_count(r.out, "cr"), ncr3);
	cr_assert_eq(summary_count(r.out, "msr"), nmsr);
	cr_assert(strstr(r.out, "# the VM stopped after"), "%s", r.out);
	cr_assert_eq(vm_wait(&vm, 30000), 0);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, k, &v), "key %s missing in %s", k,
		  json_object_to_json_string(o));
	return json_object_get_string(v);
}

static void check_timeline(const char *path, unsigned events)
{
	json_object *o = json_object_from_file(path), *a, *e;
	unsigned inst = 0, spans = 0, lanes = 0;

	cr_assert_not_null(o, "timeline is not JSON");
	cr_assert(json_object_object_get_ex(o, "traceEvents", &a));
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *ph;

		e = json_object_array_get_idx(a, i);
		ph = jstr(e, "ph");
		jstr(e, "name");
		inst += !strcmp(ph, "i");
		spans += !strcmp(ph, "X") && !strncmp(jstr(e, "name"), "CR3 0x", 6);
		lanes += !strcmp(ph, "M") && !strcmp(jstr(e, "name"), "thread_name");
	}
	cr_assert_eq(inst, events, "one instant per event");
	cr_assert_geq(spans, 8, "address-space spans");
	cr_assert_eq(lanes, 1, "one lane per vCPU seen");
	json_object_put(o);
}

Test(cli_trace, json_lines_and_timeline_parsed_back)
{
	char tl[160];
	const char *argv[] = { "trace", "--json", "--cr", "3", "--msr", "LSTAR,EFER", "--timeline",
			       tl, NULL, NULL };
	unsigned counts[3] = { 0 }, lines = 0;
	json_object *o, *summary = NULL, *c;
	double last_t = 0;

	vm_start(&vm);
	snprintf(tl, sizeof(tl), "%s/timeline.json", vm.dir);
	argv[8] = vm.sock;
	cr_assert_eq(run_vigil(&r, 90000, argv), 0, "stderr: %s", r.err);
	for (char *save = NULL, *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *ev;

		o = json_tokener_parse(l);
		cr_assert_not_null(o, "not JSON: %s", l);
		ev = jstr(o, "event");
		cr_assert_geq(json_object_get_double(json_object_object_get(o, "t")), last_t);
		last_t = json_object_get_double(json_object_object_get(o, "t"));
		lines++;
		if (!strcmp(ev, "summary")) {
			summary = o;
			continue;
		}
		if (!strcmp(ev, "cr") || !strcmp(ev, "msr")) {
			jstr(o, "rip"); jstr(o, "cr3"); jstr(o, "seq"); jstr(o, "vcpu"); jstr(o, "cpl");
			cr_assert_str_eq(jstr(o, "action"), "allow");
			cr_assert_eq(strncmp(jstr(o, "new"), "0x", 2), 0);
			jstr(o, "old");
			counts[ev[0] == 'c' ? 0 : 1]++;
			if (ev[0] == 'm')
				cr_assert(!strcmp(jstr(o, "name"), "LSTAR") || !strcmp(jstr(o, "name"), "EFER"));
		}
		json_object_put(o);
	}
	cr_assert_not_null(summary, "summary line last");
	cr_assert_str_eq(jstr(summary, "reason"), "the VM stopped");
	cr_assert(json_object_object_get_ex(summary, "counts", &c));
	cr_assert_eq(json_object_get_int(json_object_object_get(c, "cr")), (int)counts[0]);
	cr_assert_eq(json_object_get_int(json_object_object_get(c, "msr")), (int)counts[1]);
	cr_assert_eq(counts[1], 2, "LSTAR and EFER written once each");
	json_object_put(summary);
	check_timeline(tl, counts[0] + counts[1]);
	cr_assert_eq(vm_wait(&vm, 30000), 0);
}

Test(cli_trace, pages_range_reports_the_rootkit_write)
{
	const char *argv[] = { "trace", "--pages", "0x200000+4K:w", NULL, NULL };

	vm_start(&vm);
	argv[3] = vm.sock;
	cr_assert_eq(run_vigil(&r, 90000, argv), 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "write 8 bytes at gpa 0x200018"), "%s", r.out);
	cr_assert_eq(vm_wait(&vm, 30000), 0);
	/* watching is not denying: the write happened */
	cr_assert(strstr(vm_console(&vm), "system-call table MODIFIED"), "%s", vm_console(&vm));
}

Test(cli_trace, duration_ends_the_trace_and_the_guest_goes_on)
{
	const char *argv[] = { "trace", "--cr", "3", "--duration", "0.3", NULL, NULL };

	vm_start(&vm);
	argv[5] = vm.sock;
	cr_assert_eq(run_vigil(&r, 60000, argv), 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "# duration elapsed after"), "%s", r.out);
	cr_assert_eq(vm_wait(&vm, 60000), 0, "log:\n%s", vm_log(&vm));
	cr_assert(strstr(vm_console(&vm), "demo: system-call table"), "the guest finished");
}

Test(cli_trace, sigint_detaches_mid_trace_and_the_guest_finishes)
{
	const char *argv[] = { "trace", "--cr", "3", NULL, NULL };
	long end = now_ms() + 60000;
	char *out = NULL;

	vm_start(&vm);
	argv[3] = vm.sock;
	run_start(&r, argv);
	do {   /* mid-trace: some CR3 switches seen, the guest not finished */
		free(out);
		out = slurp(r.out_path);
		cr_assert(now_ms() < end, "no CR3 event; out:\n%s", out);
		usleep(2000);
	} while (count_str(out, " cr3 ") < 2);
	free(out);
	cr_assert_eq(kill(r.pid, SIGINT), 0);
	run_wait(&r, 30000);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert(strstr(r.out, "# interrupted by Interrupt after"), "%s", r.out);
	cr_assert_eq(vm_wait(&vm, 60000), 0, "log:\n%s", vm_log(&vm));
	cr_assert(strstr(vm_console(&vm), "demo: system-call table"), "the guest finished:\n%s",
		  vm_console(&vm));
}
