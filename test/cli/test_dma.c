/* vigil trace --dma and vigil policy against device DMA: vigild with the
 * vu-dma device server (trace-dma=on) and a guest that copies twice. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "dma_cli.h"

static struct vm vm;
static struct run r;
static pid_t srv_pid;
static char srv_path[160], spec[256];

static void fini(void)
{
	run_free(&r);
	vm_free(&vm);
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
	}
	unlink(srv_path);
}

TestSuite(cli_dma, .fini = fini, .timeout = 120);

/* vu-dma, then vigild with it as a traced device and the DMA guest. */
static void start(void)
{
	const char *extra[] = { "--device", spec, NULL };
	char arg[200];

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	snprintf(srv_path, sizeof(srv_path), "/tmp/vigil-cli-dma-%d.sock", getpid());
	snprintf(arg, sizeof(arg), "--socket-path=%s", srv_path);
	unlink(srv_path);
	srv_pid = fork();
	cr_assert_geq(srv_pid, 0);
	if (srv_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(VU_DMA_SERVER, VU_DMA_SERVER, arg, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && access(srv_path, F_OK); i++)
		usleep(5000);
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s,trace-dma=on", srv_path);
	vm_start_guest(&vm, DMA_CLI_GUEST, extra, "waiting for a vigil tool");
}

/* The table rows of DMA events, in order. */
static unsigned dma_rows(const char *out, char rows[][256], unsigned max)
{
	unsigned n = 0;

	for (const char *p = out; *p && n < max;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		snprintf(rows[n], 256, "%.*s", (int)(len < 255 ? len : 255), p);
		if (strstr(rows[n], "    - dma        dev0@00:"))
			n++;
		p += len + (eol ? 1 : 0);
	}
	return n;
}

static void expect_statuses(const char *s1, const char *s2)
{
	char want[96];

	cr_assert_eq(vm_wait(&vm, 30000), 0, "log:\n%s", vm_log(&vm));
	snprintf(want, sizeof(want), "copy 1 status %s, copy 2 status %s", s1, s2);
	cr_assert(strstr(vm_console(&vm), want), "console:\n%s", vm_console(&vm));
}

Test(cli_dma, trace_shows_device_reads_and_writes)
{
	const char *argv[] = { "trace", "--dma", "--pages", "0x320000+4K:w", NULL, NULL };
	char rows[8][256];

	start();
	argv[4] = vm.sock;
	cr_assert_eq(run_vigil(&r, 60000, argv), 0, "stderr: %s", r.err);
	cr_assert_eq(dma_rows(r.out, rows, 8), 4, "out:\n%s", r.out);
	cr_assert(strstr(rows[0], "device reads 256 bytes at gpa 0x300000: allowed"), "%s", rows[0]);
	cr_assert(strstr(rows[1], "device writes 256 bytes at gpa 0x310000: allowed"), "%s", rows[1]);
	cr_assert(strstr(rows[2], "device reads 256 bytes at gpa 0x300000: allowed"), "%s", rows[2]);
	/* --pages makes the page read-only; trace answers ALLOW: it lands. */
	cr_assert(strstr(rows[3], "device writes 256 bytes at gpa 0x320000, page policy denies "
			 "0x320000: allow"), "%s", rows[3]);
	cr_assert(strstr(r.out, " dma 4"), "summary:\n%s", r.out);
	expect_statuses("1", "1");
}

Test(cli_dma, trace_json_lines_describe_the_dma)
{
	const char *argv[] = { "trace", "--dma", "--json", "--pages", "0x320000+4K:w", NULL, NULL };
	unsigned n = 0;

	start();
	argv[5] = vm.sock;
	cr_assert_eq(run_vigil(&r, 60000, argv), 0, "stderr: %s", r.err);
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		json_object *o = json_tokener_parse(line), *v;

		cr_assert_not_null(o, "not JSON: %s", line);
		if (!json_object_object_get_ex(o, "event", &v) ||
		    strcmp(json_object_get_string(v), "dma")) {
			json_object_put(o);
			continue;
		}
		cr_assert(json_object_object_get_ex(o, "vcpu", &v) && v == NULL, "vcpu is null");
		cr_assert(json_object_object_get_ex(o, "device", &v) && json_object_get_int(v) == 0);
		cr_assert(json_object_object_get_ex(o, "len", &v) && json_object_get_int(v) == 256);
		cr_assert(json_object_object_get_ex(o, "direction", &v));
		if (n == 3) {
			cr_assert_str_eq(json_object_get_string(v), "write");
			cr_assert(json_object_object_get_ex(o, "gpa", &v));
			cr_assert_str_eq(json_object_get_string(v), "0x320000");
			cr_assert(json_object_object_get_ex(o, "policy", &v));
			cr_assert_str_eq(json_object_get_string(v), "deny");
			cr_assert(json_object_object_get_ex(o, "action", &v));
			cr_assert_str_eq(json_object_get_string(v), "allow");
		}
		n++;
		json_object_put(o);
	}
	cr_assert_eq(n, 4);
	expect_statuses("1", "1");
}

static void run_policy(const char *on_violation)
{
	const char *argv[] = { "policy", NULL, NULL, NULL };
	char text[256], path[160];
	char rows[8][256];

	start();
	snprintf(text, sizeof(text),
		 "{ \"rules\": [ { \"name\": \"dst2\", \"gpa\": \"0x320000\", \"size\": \"4K\","
		 " \"allow\": \"r\", \"on_violation\": \"%s\" } ] }", on_violation);
	argv[1] = vm.sock;
	argv[2] = write_file(path, sizeof(path), vm.dir, "policy.json", text);
	cr_assert_eq(run_vigil(&r, 60000, argv), 0, "stderr: %s", r.err);
	/* Without --dma only the violation is shown. */
	cr_assert_eq(dma_rows(r.out, rows, 8), 1, "out:\n%s", r.out);
	cr_assert(strstr(rows[0], "device writes 256 bytes at gpa 0x320000"), "%s", rows[0]);
	cr_assert(strstr(rows[0], "VIOLATION of 'dst2'"), "%s", rows[0]);
	cr_assert(strstr(r.out, "policy violations: 1"), "out:\n%s", r.out);
}

Test(cli_dma, policy_deny_fails_the_device_write)
{
	run_policy("deny");
	cr_assert(strstr(r.out, "(deny): deny"), "out:\n%s", r.out);
	expect_statuses("1", "8000000d");   /* DMA_DEV_STATUS_ERROR | EACCES */
}

Test(cli_dma, policy_log_lets_the_device_write)
{
	run_policy("log");
	cr_assert(strstr(r.out, "(log): allow"), "out:\n%s", r.out);
	expect_statuses("1", "1");
}

Test(cli_dma, trace_dma_without_a_traced_device_is_refused)
{
	const char *argv[] = { "trace", "--dma", NULL, NULL };

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("needs /dev/kvm");
	vm_start(&vm);
	argv[2] = vm.sock;
	cr_assert_eq(run_vigil(&r, 30000, argv), 69, "out: %s\nerr: %s", r.out, r.err);
	cr_assert(strstr(r.err, "no device attached with trace-dma=on"), "stderr: %s", r.err);
}
