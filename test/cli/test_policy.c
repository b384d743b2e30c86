/* vigil policy against the demo guest (deny, log, crash), invalid policy
 * files (each kind of error, nothing applied). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
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

TestSuite(cli_policy, .fini = fini, .timeout = 120);

static const char *policy_text(const char *sct_action, const char *page_action)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{ \"version\": 1, \"rules\": [\n"
		 "  { \"name\": \"sct\", \"gpa\": \"0x200000\", \"size\": \"4K\", \"allow\": \"r\",\n"
		 "    \"on_violation\": \"%s\" },\n"
		 "  { \"name\": \"rkpage\", \"gva\": \"0x8000001000\", \"cr3\": \"0x330000\",\n"
		 "    \"size\": 4096, \"allow\": \"rw\", \"on_violation\": \"%s\" } ] }\n",
		 sct_action, page_action);
	return buf;
}

static void run_policy(const char *file)
{
	const char *argv[] = { "policy", NULL, file, NULL };

	argv[1] = vm.sock;
	cr_assert_eq(run_vigil(&r, 90000, argv), 0, "stderr: %s", r.err);
}

Test(cli_policy, deny_drops_the_write_and_faults_the_fetch)
{
	vm_start(&vm);
	run_policy(DEMO_POLICY);
	cr_assert(strstr(r.out, "write 8 bytes at gpa 0x200018"), "%s", r.out);
	cr_assert(strstr(r.out, "VIOLATION of 'syscall-table' (deny): skip"), "%s", r.out);
	cr_assert(strstr(r.out, "execute at gpa 0x335000 (gva 0x8000001000)  VIOLATION of "
			 "'rootkit-data-page' (deny): page fault injected"), "%s", r.out);
	cr_assert(strstr(r.out, "policy violations: 2"), "%s", r.out);
	cr_assert_eq(vm_wait(&vm, 30000), 0);
	cr_assert(strstr(vm_console(&vm), "demo: system-call table intact"), "%s", vm_console(&vm));
	cr_assert(strstr(vm_console(&vm), "code in a data page was stopped (page fault at "
			 "0x8000001000)"), "%s", vm_console(&vm));
}

Test(cli_policy, log_allows_and_reports)
{
	char path[160];

	vm_start(&vm);
	run_policy(write_file(path, sizeof(path), vm.dir, "log.json", policy_text("log", "log")));
	cr_assert(strstr(r.out, "VIOLATION of 'sct' (log): allow"), "%s", r.out);
	cr_assert(strstr(r.out, "VIOLATION of 'rkpage' (log): allow"), "%s", r.out);
	cr_assert_eq(vm_wait(&vm, 30000), 0);
	cr_assert(strstr(vm_console(&vm), "system-call table MODIFIED"), "%s", vm_console(&vm));
	cr_assert(strstr(vm_console(&vm), "code in a data page RAN"), "%s", vm_console(&vm));
}

Test(cli_policy, crash_stops_the_vm)
{
	char path[160];

	vm_start(&vm);
	run_policy(write_file(path, sizeof(path), vm.dir, "crash.json", policy_text("crash", "deny")));
	cr_assert(strstr(r.out, "VIOLATION of 'sct' (crash): crash"), "%s", r.out);
	cr_assert(strstr(r.out, "# the VM stopped after"), "%s", r.out);
	cr_assert_eq(vm_wait(&vm, 30000), 82, "vigild's status for CRASH");
	cr_assert_null(strstr(vm_console(&vm), "demo: system-call table"), "%s", vm_console(&vm));
}

Test(cli_policy, unmapped_gva_rejects_the_whole_file)
{
	char path[160];
	const char *argv[] = { "policy", NULL, path, NULL };
	const char *text =
		"{ \"rules\": [ { \"gpa\": \"0x200000\", \"size\": 4096, \"allow\": \"r\" },\n"
		"  { \"name\": \"nowhere\", \"gva\": \"0x9000000000\", \"cr3\": \"0x330000\",\n"
		"    \"size\": 4096, \"allow\": \"r\" } ] }\n";

	vm_start(&vm);
	write_file(path, sizeof(path), vm.dir, "unmapped.json", text);
	argv[1] = vm.sock;
	cr_assert_eq(run_vigil(&r, 30000, argv), 65, "stderr: %s", r.err);
	cr_assert(strstr(r.err, "rule 'nowhere': gva 0x9000000000 is not mapped"), "%s", r.err);
	cr_assert(strstr(r.err, "nothing applied"), "%s", r.err);
	cr_assert_eq(vm_wait(&vm, 60000), 0);
	/* the valid first rule was not applied either */
	cr_assert(strstr(vm_console(&vm), "system-call table MODIFIED"), "%s", vm_console(&vm));
}

struct bad_policy {   /* arrays, not pointers: Criterion copies parameters */
	char text[200];
	char error[80];      /* expected after "FILE: " */
};

static struct bad_policy bad[] = {
	{ "{ \"rules\": [\n  { \"gpa\": 1,\n    \"size\" 4096 } ] }", "line 3, column" },
	{ "{ \"rules\": [] } trailing", "line 1, column 17: unexpected text" },
	{ "{ \"rules\": [ { \"gpa\": 1", "line 1, column 24: invalid JSON: unexpected end" },
	{ "[1, 2]", "expected a JSON object" },
	{ "{ \"rulez\": [] }", "rulez: unknown key" },
	{ "{ \"version\": 2, \"rules\": [] }", "version: this vigil reads version 1" },
	{ "{ \"rules\": {} }", "rules: missing or not an array" },
	{ "{ \"rules\": [] }", "rules: expected 1 to" },
	{ "{ \"rules\": [ 7 ] }", "rules[0]: expected an object" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": 1, \"allow\": \"r\", \"colour\": 1 } ] }",
	  "rules[0].colour: unknown key" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"gva\": 0, \"cr3\": 0, \"size\": 1, \"allow\": \"r\" } ] }",
	  "rules[0]: give exactly one of \"gpa\" and \"gva\"" },
	{ "{ \"rules\": [ { \"size\": 1, \"allow\": \"r\" } ] }",
	  "rules[0]: give exactly one of \"gpa\" and \"gva\"" },
	{ "{ \"rules\": [ { \"gva\": 0, \"size\": 1, \"allow\": \"r\" } ] }", "rules[0].cr3: required" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"cr3\": 0, \"size\": 1, \"allow\": \"r\" } ] }",
	  "rules[0].cr3: only meaningful with \"gva\"" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"allow\": \"r\" } ] }", "rules[0].size: missing" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": 1 } ] }", "rules[0].allow: missing" },
	{ "{ \"rules\": [ { \"gpa\": \"0xZZ\", \"size\": 1, \"allow\": \"r\" } ] }",
	  "rules[0].gpa: \"0xZZ\" is not a number" },
	{ "{ \"rules\": [ { \"gpa\": -4096, \"size\": 1, \"allow\": \"r\" } ] }",
	  "rules[0].gpa: must not be negative" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": \"4Q\", \"allow\": \"r\" } ] }",
	  "rules[0].size: \"4Q\" is not a size" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": 0, \"allow\": \"r\" } ] }",
	  "rules[0].size: must not be 0" },
	{ "{ \"rules\": [ { \"gpa\": \"0xffffffffffffff00\", \"size\": 4096, \"allow\": \"r\" } ] }",
	  "rules[0].size: the range" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": 1, \"allow\": \"rwz\" } ] }",
	  "rules[0].allow: \"rwz\": unknown right 'z'" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": 1, \"allow\": \"rr\" } ] }",
	  "rules[0].allow: \"rr\": right 'r' given twice" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": 1, \"allow\": \"r\", \"on_violation\": \"kill\" } ] }",
	  "rules[0].on_violation: expected \"deny\", \"log\" or \"crash\"" },
	{ "{ \"rules\": [ { \"gpa\": 0, \"size\": 1, \"allow\": \"r\" },\n"
	  "  { \"name\": 5, \"gpa\": 0, \"size\": 1, \"allow\": \"r\" } ] }",
	  "rules[1].name: expected a string" },
};

ParameterizedTestParameters(cli_policy, bad_file_is_rejected_before_attaching)
{
	return cr_make_param_array(struct bad_policy, bad, sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(struct bad_policy *b, cli_policy, bad_file_is_rejected_before_attaching)
{
	char dir[] = "/tmp/vigil-cli-bad-XXXXXX", path[160], expect[512];
	/* The socket does not exist: the file must be refused first (65, not 66). */
	const char *argv[] = { "policy", "/nonexistent/vigil.sock", path, NULL };

	cr_assert_not_null(mkdtemp(dir));
	write_file(path, sizeof(path), dir, "bad.json", b->text);
	cr_assert_eq(run_vigil(&r, 10000, argv), 65, "stderr: %s", r.err);
	snprintf(expect, sizeof(expect), "vigil: %s: %s", path, b->error);
	cr_assert(strstr(r.err, expect), "expected \"%s\" in:\n%s", expect, r.err);
	unlink(path);
	rmdir(dir);
}

Test(cli_policy, missing_file)
{
	const char *argv[] = { "policy", "/nonexistent/vigil.sock", "/nonexistent/policy.json", NULL };

	cr_assert_eq(run_vigil(&r, 10000, argv), 66);
	cr_assert(strstr(r.err, "/nonexistent/policy.json: No such file"), "%s", r.err);
}
