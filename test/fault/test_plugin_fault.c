/*
 * Fault injection, plugin side.
 *
 * kill_100_cycles: the real vigild runs p_fault (loop mode) driving a real
 * guest; the test SIGKILLs the plugin at a random moment (fixed seed) in
 * each of 100 cycles. vigild must end the VM within a second with status 83,
 * reap the plugin (nothing is left for this subreaper to collect) and must
 * not have leaked any fd into the plugin across exec (not even one vigild
 * itself inherited without O_CLOEXEC); the plugin runs with no capability
 * and no_new_privs.
 *
 * kill_inproc_100_cycles: the same plugin against the plugin server inside
 * this process (plugin_attach, as in the fuzz targets), so vigild's side can
 * be inspected: after every cycle the process has exactly the fds it had
 * before (none leaked by the server whatever the kill interrupted) and the
 * teardown with a vCPU parked on the dead plugin does not hang.
 *
 * stops_answering: the plugin leaves vCPU 0 waiting and never answers again
 * (then is SIGSTOPped): vCPU 1 keeps running the guest, and SIGTERM still
 * ends vigild within a second, the stopped plugin killed and reaped.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_util.h"
#include "fuzz_util.h"
#include "plugin_env.h"
#include "vm.h"

#define CYCLES 100

static void need_kvm(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		cr_skip_test("/dev/kvm is not available");
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
}

static pid_t start_vigild(const char *mode, const char *vcpus, int *out)
{
	char *argv[] = { VIGILD_PATH, "run", "--plugin", P_FAULT_PATH, "--plugin-arg",
			 GUEST_PATH, "--plugin-arg", (char *)mode, "--vcpus", (char *)vcpus,
			 NULL };
	pid_t pid = fault_spawn(argv, out, "/tmp/vigil-fault-vigild.log");

	cr_assert(pid > 0);
	return pid;
}

/* "pid P caps C nnp N fds a,b,c," -> P; checks that the plugin runs with no
 * capability and no_new_privs, and that only 0, 1, 2 and its socket came in. */
static pid_t parse_start(const char *line)
{
	int pid = 0, n = 0, fds[16];
	const char *p = strstr(line, "fds ");
	char caps[32], nnp[8];

	cr_assert(sscanf(line, "pid %d caps %31s nnp %7s", &pid, caps, nnp) == 3 && p,
		  "plugin said '%s'", line);
	cr_assert_str_eq(caps, "0000000000000000", "the plugin has capabilities: %s", line);
	cr_assert_str_eq(nnp, "1", "the plugin can gain privileges: %s", line);
	for (p += 4; *p && n < 16; p = strchr(p, ',') + 1) {
		fds[n++] = atoi(p);
		if (!strchr(p, ','))
			break;
	}
	cr_assert(n == 4 && fds[0] == 0 && fds[1] == 1 && fds[2] == 2,
		  "the plugin started with more than stdio and its socket: %s", line);
	return pid;
}

Test(fault, plugin_sigkill_100_cycles_vm_ends_within_1s, .timeout = 240)
{
	char line[512];
	long worst = 0;

	need_kvm();
	srand(8);
	for (int i = 0; i < CYCLES; i++) {
		int out, st;
		pid_t vd = start_vigild("loop", "1", &out), pl;
		long t0;

		cr_assert(fault_read_line(out, line, sizeof(line), 10000) > 0,
			  "cycle %d: no word from the plugin", i);
		pl = parse_start(line);
		usleep((useconds_t)(rand() % 40000));
		cr_assert(kill(pl, SIGKILL) == 0, "cycle %d: plugin already gone", i);
		t0 = fault_now_ms();
		if (!fault_wait(vd, 1000, &st)) {
			kill(vd, SIGKILL);
			cr_assert_fail("cycle %d: vigild still running 1 s after the plugin died", i);
		}
		worst = fault_now_ms() - t0 > worst ? fault_now_ms() - t0 : worst;
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 83,
			  "cycle %d: vigild status %#x, want exit 83", i, st);
		cr_assert(kill(pl, 0) < 0 && errno == ESRCH, "cycle %d: plugin still exists", i);
		cr_assert(fault_reap_orphans(vd) == 0, "cycle %d: vigild left an unreaped child", i);
		close(out);
	}
	cr_log_info("worst time from kill to vigild exit: %ld ms", worst);
}

static pid_t spawn_plugin_on(int sock)
{
	pid_t pid = fork();

	if (pid == 0) {
		char num[16];
		int fd = fcntl(sock, F_DUPFD, 3), null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		snprintf(num, sizeof(num), "%d", fd);
		setenv("CROSVM_SOCKET", num, 1);
		execl(P_FAULT_PATH, P_FAULT_PATH, GUEST_PATH, "loop", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void run_for(struct penv *e, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
}

Test(fault, plugin_sigkill_inproc_100_cycles_no_fd_leak, .timeout = 240)
{
	struct penv e;
	int base;

	need_kvm();
	cr_assert(penv_init(&e) == 0);
	srand(9);
	base = fuzz_count_fds(-1);
	for (int i = 0; i < CYCLES; i++) {
		pid_t pl;
		long t0;
		int n;

		cr_assert(penv_up(&e) == 0);
		pl = spawn_plugin_on(e.main_fd);
		cr_assert(pl > 0);
		close(e.main_fd);      /* the plugin's now */
		e.main_fd = -1;
		run_for(&e, rand() % 40);
		kill(pl, SIGKILL);
		cr_assert(waitpid(pl, NULL, 0) == pl);
		/* What vigild's pid watch does when the plugin is reaped. */
		vm_request_stop(e.vm, 83, "the plugin was killed");
		run_for(&e, 5);
		t0 = fault_now_ms();
		penv_down(&e);
		cr_assert(fault_now_ms() - t0 < 1000, "cycle %d: teardown took %ld ms", i,
			  fault_now_ms() - t0);
		n = fuzz_count_fds(base);
		if (n != base)
			fuzz_dump_fds();
		cr_assert(n == base, "cycle %d: %d fds open, %d before", i, n, base);
	}
	penv_fini(&e);
}

Test(fault, plugin_stops_answering_other_vcpus_run_sigterm_ends_it, .timeout = 60)
{
	char line[512];
	unsigned long long r0 = 0, r1 = 0;
	int out, st;
	pid_t vd, pl;
	long t0;

	need_kvm();
	vd = start_vigild("hang", "2", &out);
	cr_assert(fault_read_line(out, line, sizeof(line), 10000) > 0, "no word from the plugin");
	pl = parse_start(line);
	cr_assert(fault_read_line(out, line, sizeof(line), 10000) > 0 && !strcmp(line, "hung"),
		  "plugin said '%s'", line);
	for (int i = 0; i < 10; i++) {
		cr_assert(fault_read_line(out, line, sizeof(line), 2000) > 0);
		cr_assert(sscanf(line, "rounds %llu", i ? &r1 : &r0) == 1, "'%s'", line);
	}
	cr_assert(r1 > r0, "vCPU 1 stopped (%llu -> %llu rounds) while vCPU 0 waits", r0, r1);
	cr_assert(kill(pl, SIGSTOP) == 0);
	usleep(100 * 1000);
	cr_assert(fault_wait(vd, 0, &st) == false, "vigild gave up on its own");
	cr_assert(kill(vd, SIGTERM) == 0);
	t0 = fault_now_ms();
	if (!fault_wait(vd, 1000, &st)) {
		kill(vd, SIGKILL);
		kill(pl, SIGKILL);
		cr_assert_fail("vigild still running 1 s after SIGTERM");
	}
	cr_log_info("SIGTERM to exit: %ld ms", fault_now_ms() - t0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM, "status %#x", st);
	cr_assert(kill(pl, 0) < 0 && errno == ESRCH, "the stopped plugin survived");
	cr_assert(fault_reap_orphans(vd) == 0, "vigild left an unreaped child");
	close(out);
}
