/*
 * Fault injection, introspection side: one real vigild runs the storm guest
 * on two vCPUs with --introspect.
 *
 * tool_sigkill_1000_cycles: a tool process attaches, intercepts the guest's
 * MSR writes and page writes (an event storm: two events per guest round per
 * vCPU) and answers them, and is SIGKILLed at a random moment (fixed seed);
 * 1000 cycles. After each kill an observer attaches (within 5 s: the engine
 * must notice the death) and checks that no page restriction is left and
 * that every vCPU is running (its round counter moves). At the end vigild has the fds it had after the first cycle and its
 * memory grew by less than 8 MiB.
 *
 * tool_stops_reading: a tool intercepts the storm and never reads its
 * socket, with a 1 ms answer timeout so that thousands of events go unread.
 * vigild's memory stays bounded (its queue to the tool is capped) and the
 * guest, watched through vigild's RAM memfd, still makes progress (each
 * event takes the default action after --introspect-timeout).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_abi.h"
#include "fault_util.h"
#include "vigil_kvmi.h"

#define CYCLES 1000
#define NR_VCPUS 2

/* Memory growth allowed in vigild. Under AddressSanitizer freed memory sits
 * in a quarantine (up to 256 MiB) before it is reused, so RSS grows anyway. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_SLACK_KIB (64 * 1024)
#else
#define RSS_SLACK_KIB (8 * 1024)
#endif

static char sock_path[108];
static pid_t vigild = -1;

static void vigild_up(const char *timeout_ms)
{
	char *argv[] = { VIGILD_PATH, "run", "--guest", STORM_PATH, "--mem", "16M", "--vcpus", "2",
			 "--introspect", sock_path, "--introspect-timeout", (char *)timeout_ms,
			 "-q", NULL };
	struct stat st;
	int out;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		cr_skip_test("/dev/kvm is not available");
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vigil-fault-kvmi.%d", (int)getpid());
	unlink(sock_path);
	vigild = fault_spawn(argv, &out, "/tmp/vigil-fault-kvmi.log");
	cr_assert(vigild > 0);
	for (int i = 0; i < 500 && stat(sock_path, &st) < 0; i++)
		usleep(10 * 1000);
	cr_assert(stat(sock_path, &st) == 0, "vigild did not create %s", sock_path);
}

static void vigild_down(void)
{
	int st;

	if (vigild <= 0)
		return;
	kill(vigild, SIGTERM);
	cr_assert(fault_wait(vigild, 5000, &st), "vigild did not stop on SIGTERM");
	vigild = -1;
}

/* Attach, retrying while the engine still serves the previous tool (it
 * answers EBUSY and closes; the close can overtake the answer: ECONNRESET). */
static struct vigil_kvmi *attach(int within_ms)
{
	long end = fault_now_ms() + within_ms;
	struct vigil_kvmi *c = NULL;
	int r;

	while (((r = vigil_kvmi_connect(sock_path, 1000, &c)) == -EBUSY || r == -ECONNRESET) &&
	       fault_now_ms() < end)
		usleep(500);
	cr_assert(r == 0, "cannot attach: %s", strerror(-r));
	return c;
}

static void read_rounds(struct vigil_kvmi *c, uint64_t r[NR_VCPUS])
{
	cr_assert(vigil_kvmi_read_physical(c, FAULT_ROUNDS_GPA, r, sizeof(uint64_t) * NR_VCPUS,
					   NULL) == 0);
}

static void intercept_storm(struct vigil_kvmi *c)
{
	struct vigil_kvmi_page_entry e = { .gpa = FAULT_STORM_PAGE,
					   .access = VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X };

	if (vigil_kvmi_set_page_access(c, &e, 1, NULL) ||
	    vigil_kvmi_control_msr(c, FAULT_STORM_MSR, 1) ||
	    vigil_kvmi_control_events(c, VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENTS_ENABLE,
				      VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_MSR) |
				      VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_PF), NULL))
		_exit(3);
}

/* The tool: intercept, then answer every event until killed. */
static void tool_main(void)
{
	struct vigil_kvmi *c;
	struct vigil_kvmi_ev ev;

	if (vigil_kvmi_connect(sock_path, 2000, &c))
		_exit(2);
	intercept_storm(c);
	for (;;) {
		int r = vigil_kvmi_wait_event(c, 1000);

		if (r == -ETIMEDOUT)
			continue;
		if (r)
			_exit(4);
		while (vigil_kvmi_pop_event(c, &ev) == 0)
			vigil_kvmi_reply_event(c, &ev, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0);
	}
}

/* A new tool gets in within 5 s (the engine may spend up to 2 s quiescing
 * vCPUs for the memslot change that lifts the restriction, more under
 * sanitizers); every vCPU's counter then moves within 2 s; no page
 * restriction is left. Returns how long the engine took to let a tool in. */
static long observe(int cycle)
{
	long t0 = fault_now_ms(), lat;
	struct vigil_kvmi *c = attach(5000);
	uint64_t a[NR_VCPUS], b[NR_VCPUS];
	uint8_t access = 0;
	long end = fault_now_ms() + 2000;
	bool moved;

	lat = fault_now_ms() - t0;
	cr_assert(vigil_kvmi_get_page_access(c, FAULT_STORM_PAGE, &access) == 0);
	cr_assert(access == VIGIL_KVMI_PAGE_RWX, "cycle %d: restriction %#x left on the page",
		  cycle, access);
	read_rounds(c, a);
	do {
		usleep(200);
		read_rounds(c, b);
		moved = true;
		for (int v = 0; v < NR_VCPUS; v++)
			moved &= b[v] != a[v];
	} while (!moved && fault_now_ms() < end);
	cr_assert(moved, "cycle %d: a vCPU is hung (%llu/%llu -> %llu/%llu)", cycle,
		  (unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)b[0],
		  (unsigned long long)b[1]);
	vigil_kvmi_close(&c);
	return lat;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* vigild's fd count once the observer's connection is gone (the engine closes
 * it from its loop): with @expect < 0 the smallest of 20 samples over 20 ms,
 * else the first sample not above @expect within 200 ms. */
static int settled_fds(int expect)
{
	int n = fault_count_fds(vigild);

	for (int i = 0; i < 200 && (expect < 0 ? i < 20 : n > expect); i++) {
		int m;

		usleep(1000);
		m = fault_count_fds(vigild);
		n = expect < 0 && m > n ? n : m;
	}
	return n;
}

Test(fault, kvmi_tool_sigkill_1000_cycles_no_hung_vcpu_no_restriction_no_leak,
     .timeout = 600)
{
	int base_fds = -1;
	long base_rss = 0, worst = 0, total = 0, lat;
	long t0;

	vigild_up("2000");
	srand(10);
	t0 = fault_now_ms();
	for (int i = 0; i < CYCLES; i++) {
		pid_t tool = fork();

		if (tool == 0)
			tool_main();
		cr_assert(tool > 0);
		usleep((useconds_t)(rand() % 6000));
		kill(tool, SIGKILL);
		cr_assert(waitpid(tool, NULL, 0) == tool);
		lat = observe(i);
		worst = lat > worst ? lat : worst;
		total += lat;
		if (i == 9) {
			base_fds = settled_fds(-1);
			base_rss = rss_kib(vigild);
		}
	}
	cr_assert(settled_fds(base_fds) <= base_fds, "vigild has %d fds, %d after cycle 10",
		  fault_count_fds(vigild), base_fds);
	cr_assert(rss_kib(vigild) - base_rss < RSS_SLACK_KIB, "vigild grew from %ld to %ld KiB",
		  base_rss, rss_kib(vigild));
	cr_log_info("%d cycles in %ld ms; a new tool got in %ld ms after the kill on average, "
		    "%ld ms at worst", CYCLES, fault_now_ms() - t0, total / CYCLES, worst);
	vigild_down();
	cr_assert(fault_reap_orphans(-1) == 0);
}

Test(fault, kvmi_tool_stops_reading_memory_bounded_guest_progresses, .timeout = 60)
{
	uint64_t a[NR_VCPUS], b[NR_VCPUS];
	long rss0, rss1;
	pid_t tool;
	int ram;

	/* 1 ms per event: the unread events pile up in the socket and then in
	 * vigild's queue to the tool, which is what must stay bounded. */
	vigild_up("1");
	ram = fault_guest_ram_fd(vigild);
	cr_assert(ram >= 0, "cannot open vigild's guest RAM: %s", strerror(-ram));
	tool = fork();
	if (tool == 0) {
		struct vigil_kvmi *t;

		if (vigil_kvmi_connect(sock_path, 2000, &t))
			_exit(2);
		intercept_storm(t);
		for (;;)
			pause();          /* attached, intercepting, never reading */
	}
	usleep(500 * 1000);
	rss0 = rss_kib(vigild);
	cr_assert(pread(ram, a, sizeof(a), FAULT_ROUNDS_GPA) == sizeof(a));
	usleep(5000 * 1000);
	cr_assert(pread(ram, b, sizeof(b), FAULT_ROUNDS_GPA) == sizeof(b));
	rss1 = rss_kib(vigild);
	cr_assert(kill(tool, 0) == 0 && waitpid(tool, NULL, WNOHANG) == 0, "the tool went away");
	kill(tool, SIGKILL);
	cr_assert(waitpid(tool, NULL, 0) == tool);
	cr_log_info("5 s with a tool not reading: vigild %ld -> %ld KiB, rounds %llu/%llu",
		    rss0, rss1, (unsigned long long)(b[0] - a[0]),
		    (unsigned long long)(b[1] - a[1]));
	cr_assert(rss1 - rss0 < 2 * RSS_SLACK_KIB,
		  "vigild grew from %ld to %ld KiB with a tool not reading", rss0, rss1);
	for (int v = 0; v < NR_VCPUS; v++)
		cr_assert(b[v] > a[v] + 10, "vCPU %d: %llu rounds in 5 s", v,
			  (unsigned long long)(b[v] - a[v]));
	close(ram);
	vigild_down();
}

/*
 * Backpressure with the default 5 s answer time: once an event has gone
 * unanswered and the tool still has not read its socket, later events take
 * the default action at once instead of stalling the guest 5 s each.
 */
Test(fault, kvmi_tool_stops_reading_events_default_at_once, .timeout = 60)
{
	uint64_t a[NR_VCPUS], b[NR_VCPUS];
	pid_t tool;
	int ram;

	vigild_up("5000");
	ram = fault_guest_ram_fd(vigild);
	cr_assert(ram >= 0, "cannot open vigild's guest RAM: %s", strerror(-ram));
	tool = fork();
	if (tool == 0) {
		struct vigil_kvmi *t;

		if (vigil_kvmi_connect(sock_path, 2000, &t))
			_exit(2);
		intercept_storm(t);
		for (;;)
			pause();          /* attached, intercepting, never reading */
	}
	usleep(6500 * 1000);         /* the first events time out (5 s) */
	cr_assert(pread(ram, a, sizeof(a), FAULT_ROUNDS_GPA) == sizeof(a));
	usleep(3000 * 1000);
	cr_assert(pread(ram, b, sizeof(b), FAULT_ROUNDS_GPA) == sizeof(b));
	kill(tool, SIGKILL);
	cr_assert(waitpid(tool, NULL, 0) == tool);
	cr_log_info("3 s after the first timeout: rounds %llu/%llu",
		    (unsigned long long)(b[0] - a[0]), (unsigned long long)(b[1] - a[1]));
	/* Without backpressure each event would wait 5 s: at most one round. */
	for (int v = 0; v < NR_VCPUS; v++)
		cr_assert(b[v] > a[v] + 10, "vCPU %d: %llu rounds in 3 s", v,
			  (unsigned long long)(b[v] - a[v]));
	close(ram);
	vigild_down();
}
