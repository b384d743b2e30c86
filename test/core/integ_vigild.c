/* vigild as a real process: guests, exit statuses, signals, bad input. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define TIMEOUT_MS 30000

static struct proc_result res;

static void run(const char *a1, const char *a2, const char *a3, const char *a4,
		const char *a5, const char *a6)
{
	char *argv[] = { (char *)vigild_path, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, (char *)a6, NULL };

	cr_assert_eq(proc_run(argv, TIMEOUT_MS, &res), 0, "cannot spawn %s", vigild_path);
	cr_assert(!res.timed_out, "vigild did not finish; stderr: %s", res.err);
}

/* The error path must be exactly one line on stderr. */
static void assert_one_line(void)
{
	size_t len = strlen(res.err);

	cr_assert(len > 0, "no error message");
	cr_assert_eq(strchr(res.err, '\n'), res.err + len - 1, "not one line: %s", res.err);
}

Test(vigild, serial_console_reaches_stdout)
{
	run("run", "--guest", core_guest("hello"), NULL, NULL, NULL);
	cr_assert_eq(res.status, 0, "status %d: %s", res.status, res.err);
	cr_assert(strstr(res.out, "hello from the vigil test guest\n"), "stdout: %s", res.out);
	cr_assert(strstr(res.err, "guest done"), "stderr: %s", res.err);
}

Test(vigild, four_vcpus_each_report)
{
	char line[64];
	unsigned i;

	run("run", "--guest", core_guest("hello"), "--vcpus", "4", NULL);
	cr_assert_eq(res.status, 0, "status %d: %s", res.status, res.err);
	for (i = 0; i < 4; i++) {
		snprintf(line, sizeof(line), "vCPU %u of 4 reporting\n", i);
		cr_assert(strstr(res.out, line), "missing '%s' in: %s", line, res.out);
	}
}

Test(vigild, guest_exit_status_propagates)
{
	run("run", "--guest", core_guest("exit_status"), NULL, NULL, NULL);
	cr_assert_eq(res.status, 42, "status %d: %s", res.status, res.err);
	cr_assert(strstr(res.err, "status 42"), "stderr: %s", res.err);
}

Test(vigild, guest_assert_ends_vm_with_message)
{
	run("run", "--guest", core_guest("assert_fail"), NULL, NULL, NULL);
	cr_assert_eq(res.status, 1, "status %d: %s", res.status, res.err);
	cr_assert(strstr(res.err, "assert_fail.c:"), "stderr: %s", res.err);
	cr_assert(strstr(res.err, "0x1 != 0x7"), "stderr: %s", res.err);
}

Test(vigild, triple_fault_is_reported_not_hung)
{
	run("run", "--guest", core_guest("triple_fault"), "--vcpus", "2", NULL);
	cr_assert_eq(res.status, 80, "status %d: %s", res.status, res.err);
	cr_assert(strstr(res.err, "triple fault"), "stderr: %s", res.err);
}

Test(vigild, sigterm_during_busy_guest_stops_in_order)
{
	char *argv[] = { (char *)vigild_path, "run", "--guest", (char *)core_guest("busy"),
			 "--vcpus", "2", NULL };
	char buf[64];
	int out_fd, err_fd;
	pid_t pid;
	ssize_t n;

	cr_assert_eq(proc_spawn(argv, &pid, &out_fd, &err_fd), 0);
	/* Wait until the guest runs (its first console line), then SIGTERM. */
	n = read(out_fd, buf, sizeof(buf) - 1);
	cr_assert(n > 0, "guest printed nothing");
	buf[n] = '\0';
	cr_assert(strstr(buf, "busy guest spinning"), "stdout: %s", buf);
	kill(pid, SIGTERM);
	cr_assert_eq(proc_wait(pid, out_fd, err_fd, 10000, &res), 0);
	cr_assert(!res.timed_out, "vigild hung after SIGTERM");
	cr_assert_eq(res.status, 128 + SIGTERM, "status %d: %s", res.status, res.err);
	cr_assert(strstr(res.err, "stopped by"), "stderr: %s", res.err);
}

static void proc_status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	cr_assert(f, "cannot read %s", path);
	val[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			snprintf(val, len, "%s", line + strlen(key) + 1);
			val[strcspn(val, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

Test(vigild, drops_every_capability_once_running)
{
	char *argv[] = { (char *)vigild_path, "run", "--guest", (char *)core_guest("busy"), NULL };
	char buf[64], eff[64], bnd[64], nnp[16];
	int out_fd, err_fd;
	pid_t pid;

	proc_status_field(getpid(), "CapEff", eff, sizeof(eff));
	if (!strcmp(eff, "\t0000000000000000"))
		cr_skip_test("the test runs without capabilities: nothing to drop");
	cr_assert_eq(proc_spawn(argv, &pid, &out_fd, &err_fd), 0);
	cr_assert(read(out_fd, buf, sizeof(buf)) > 0, "guest printed nothing");
	proc_status_field(pid, "CapEff", eff, sizeof(eff));
	proc_status_field(pid, "CapBnd", bnd, sizeof(bnd));
	proc_status_field(pid, "NoNewPrivs", nnp, sizeof(nnp));
	kill(pid, SIGTERM);
	cr_assert_eq(proc_wait(pid, out_fd, err_fd, 10000, &res), 0);
	cr_assert_str_eq(eff, "\t0000000000000000", "CapEff while running:%s", eff);
	cr_assert_str_eq(bnd, "\t0000000000000000", "CapBnd while running:%s", bnd);
	cr_assert_str_eq(nnp, "\t1", "NoNewPrivs:%s", nnp);
}

Test(vigild, mem_too_small_is_one_clear_line)
{
	run("run", "--guest", core_guest("hello"), "--mem", "1M", NULL);
	cr_assert_eq(res.status, 64, "status %d: %s", res.status, res.err);
	assert_one_line();
	cr_assert(strstr(res.err, "too small"), "stderr: %s", res.err);
}

Test(vigild, guest_larger_than_mem_is_refused)
{
	/* 4 MiB of RAM: the guest loads at 4 MiB, so it cannot fit. */
	run("run", "--guest", core_guest("hello"), "--mem", "4M", NULL);
	cr_assert_eq(res.status, 64, "status %d: %s", res.status, res.err);
	assert_one_line();
	cr_assert(strstr(res.err, "does not fit"), "stderr: %s", res.err);
}

Test(vigild, absurd_mem_is_one_clear_line)
{
	run("run", "--guest", core_guest("hello"), "--mem", "900T", NULL);
	cr_assert_eq(res.status, 64, "status %d: %s", res.status, res.err);
	assert_one_line();
	run("run", "--guest", core_guest("hello"), "--mem", "lots", NULL);
	cr_assert_eq(res.status, 64, "status %d: %s", res.status, res.err);
	assert_one_line();
}

Test(vigild, corrupt_elf_is_one_clear_line)
{
	char path[] = "/tmp/vigil-corrupt-XXXXXX";
	int fd = mkstemp(path);
	static const char junk[] = "\x7f" "ELF\x02\x01\x01 this is not really an ELF file";

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	run("run", "--guest", path, NULL, NULL, NULL);
	unlink(path);
	cr_assert_eq(res.status, 65, "status %d: %s", res.status, res.err);
	assert_one_line();
	cr_assert(strstr(res.err, "ELF"), "stderr: %s", res.err);
}

Test(vigild, missing_kvm_device_is_one_clear_line)
{
	run("run", "--guest", core_guest("hello"), "--kvm-device", "/nonexistent/kvm", NULL);
	cr_assert_eq(res.status, 69, "status %d: %s", res.status, res.err);
	assert_one_line();
	cr_assert(strstr(res.err, "/nonexistent/kvm"), "stderr: %s", res.err);
}

Test(vigild, help_and_usage_errors)
{
	run("--help", NULL, NULL, NULL, NULL, NULL);
	cr_assert_eq(res.status, 0);
	cr_assert(strstr(res.out, "Usage: vigild run --guest"), "stdout: %s", res.out);
	run("run", "--guest", core_guest("hello"), "--bogus", NULL, NULL);
	cr_assert_eq(res.status, 64);
	assert_one_line();
	run("run", NULL, NULL, NULL, NULL, NULL);
	cr_assert_eq(res.status, 64);
	assert_one_line();
}
