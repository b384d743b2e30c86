/*
 * Introspection benchmarks. Every figure is a ratio against a baseline
 * measured in the same run (never an absolute threshold):
 *   MSR-write event round trip / (raw MSR-filter exit + SEQPACKET ping-pong)
 *   page-write event / (raw read-only-slot exit + ping-pong)
 *   READ_PHYSICAL throughput / memcpy
 *   events/s with 2 vCPUs / 1 vCPU
 *   time to apply a 10,000-page policy and the memslots it uses.
 * The tool is this process; vigild is a separate process, so an event is
 * answered by another process, as in real use.
 *
 * Usage: kvmi_bench [N]   (N operations per measurement, default 2000)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvmi_test_abi.h"
#include "vigil_kvmi.h"

struct run {
	pid_t pid;
	char sock[108];
	struct vigil_kvmi *c;
	struct kt_ctl ctl;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "kvmi_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void put64(struct run *r, size_t off, uint64_t v)
{
	int e = vigil_kvmi_write_physical(r->c, KT_CTL + off, &v, 8, 0, NULL);

	if (e)
		die("write_physical", e);
}

static void start(struct run *r, unsigned vcpus, const char *mem)
{
	char nv[8];
	int e, i;

	snprintf(r->sock, sizeof(r->sock), "/tmp/kvmi-bench-%d.sock", getpid());
	snprintf(nv, sizeof(nv), "%u", vcpus);
	r->pid = fork();
	if (r->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		(void)null;
		execl(VIGILD_PATH, VIGILD_PATH, "run", "--guest", KT_GUEST, "--vcpus", nv, "--mem",
		      mem, "--console", "log", "--introspect", r->sock, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 1000; i++) {
		e = vigil_kvmi_connect(r->sock, 5000, &r->c);
		if (!e)
			break;
		usleep(10000);
	}
	if (e)
		die("connect", e);
	do {
		e = vigil_kvmi_read_physical(r->c, KT_CTL, &r->ctl, sizeof(r->ctl), NULL);
		if (e)
			die("read_physical", e);
	} while (!r->ctl.ready && !usleep(2000));
}

static void stop(struct run *r)
{
	vigil_kvmi_close(&r->c);
	kill(r->pid, SIGTERM);
	waitpid(r->pid, NULL, 0);
	unlink(r->sock);
}

static void enable(struct run *r, unsigned event)
{
	int e = vigil_kvmi_control_events(r->c, VIGIL_KVMI_ALL_VCPUS, VIGIL_KVMI_EVENTS_ENABLE,
					  VIGIL_KVMI_EVBIT(event), NULL);

	if (e)
		die("control_events", e);
}

/* Seconds per guest operation (wrmsr or page write), events on or off. */
static double bench_ops(unsigned vcpus, unsigned kind, int events, unsigned n)
{
	struct vigil_kvmi_page_entry pe;
	struct vigil_kvmi_ev ev;
	struct run r;
	unsigned started = 0, ended = 0;
	double t0 = 0, t1 = 0;
	int e;

	start(&r, vcpus, "16M");
	enable(&r, VIGIL_KVMI_EVENT_HYPERCALL);
	if (kind == 0) {
		if ((e = vigil_kvmi_control_msr(r.c, KT_MSR, 1)))
			die("control_msr", e);
		if (events)
			enable(&r, VIGIL_KVMI_EVENT_MSR);
	} else {
		pe.gpa = r.ctl.wpage;
		pe.access = VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X;
		memset(pe.padding, 0, sizeof(pe.padding));
		if ((e = vigil_kvmi_set_page_access(r.c, &pe, 1, NULL)))
			die("set_page_access", e);
		if (events)
			enable(&r, VIGIL_KVMI_EVENT_PF);
	}
	put64(&r, offsetof(struct kt_ctl, bench_kind), kind);
	put64(&r, offsetof(struct kt_ctl, bench_n), n);
	put64(&r, offsetof(struct kt_ctl, scenario), KT_BENCH);
	put64(&r, offsetof(struct kt_ctl, go), 1);
	while (ended < vcpus) {
		if ((e = vigil_kvmi_wait_event(r.c, 60000)) || (e = vigil_kvmi_pop_event(r.c, &ev)))
			die("wait_event", e);
		if (ev.common.event == VIGIL_KVMI_EVENT_HYPERCALL) {
			if (ev.u.hc.value >= KT_HC_BENCH_END) {
				ended++;
				t1 = now();
			} else if (!started++) {
				t0 = now();
			}
		}
		vigil_kvmi_reply_event(r.c, &ev, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0);
	}
	stop(&r);
	return (t1 - t0) / ((double)n * vcpus);
}

/* Seconds per round trip of a 600-byte datagram between two processes. */
static double pingpong(unsigned n)
{
	char buf[600] = { 0 };
	int sv[2];
	unsigned i;
	pid_t pid;
	double t0, t;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		die("socketpair", errno);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		while (recv(sv[1], buf, sizeof(buf), 0) > 0)
			send(sv[1], buf, sizeof(buf), 0);
		_exit(0);
	}
	close(sv[1]);
	t0 = now();
	for (i = 0; i < n; i++) {
		send(sv[0], buf, sizeof(buf), 0);
		recv(sv[0], buf, sizeof(buf), 0);
	}
	t = (now() - t0) / n;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return t;
}

static void bench_read(void)
{
	size_t len = 8u << 20;
	uint8_t *a = malloc(len), *b = malloc(len);
	double t0, t_copy, t_read;
	struct run r;
	int i, e;

	if (!a || !b)
		die("malloc", ENOMEM);
	memset(a, 1, len);
	memset(b, 2, len);
	start(&r, 1, "16M");
	t0 = now();
	for (i = 0; i < 4; i++)
		memcpy(b, a, len);
	t_copy = (now() - t0) / 4;
	t0 = now();
	for (i = 0; i < 4; i++)
		if ((e = vigil_kvmi_read_physical(r.c, 0, b, len, NULL)))
			die("read_physical", e);
	t_read = (now() - t0) / 4;
	stop(&r);
	printf("READ_PHYSICAL %.0f MB/s, memcpy %.0f MB/s, ratio %.2f (target >= 0.5)\n",
	       len / t_read / 1e6, len / t_copy / 1e6, t_copy / t_read);
	free(a);
	free(b);
}

static void bench_policy(void)
{
	static struct vigil_kvmi_page_entry e[10000];
	unsigned slots = 0, i, k;
	double t0, t;
	struct run r;
	int err;

	start(&r, 1, "128M");
	for (k = 0; k < 2; k++) {
		/* k = 0: 10,000 contiguous pages (merge to one slot);
		 * k = 1: every other page (10,000 separate slots: the worst case). */
		for (i = 0; i < 10000; i++) {
			memset(&e[i], 0, sizeof(e[i]));
			e[i].gpa = 0x1000000ull + (uint64_t)i * 4096 * (k + 1);
			e[i].access = VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X;
		}
		t0 = now();
		if ((err = vigil_kvmi_set_page_access(r.c, e, 10000, &slots)))
			die("set_page_access", err);
		t = now() - t0;
		printf("10,000-page policy (%s): applied in %.1f ms, %u memslots\n",
		       k ? "every other page" : "contiguous", t * 1e3, slots);
		for (i = 0; i < 10000; i++)
			e[i].access = VIGIL_KVMI_PAGE_RWX;
		t0 = now();
		if ((err = vigil_kvmi_set_page_access(r.c, e, 10000, &slots)))
			die("set_page_access", err);
		printf("  lifted in %.1f ms, %u memslots\n", (now() - t0) * 1e3, slots);
	}
	stop(&r);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
	double pp, raw_msr, ev_msr, raw_pg, ev_pg, ev2;

	signal(SIGPIPE, SIG_IGN);
	pp = pingpong(n * 5);
	raw_msr = bench_ops(1, 0, 0, n);
	ev_msr = bench_ops(1, 0, 1, n);
	raw_pg = bench_ops(1, 1, 0, n);
	ev_pg = bench_ops(1, 1, 1, n);
	ev2 = bench_ops(2, 0, 1, n);
	printf("SEQPACKET ping-pong (2 processes): %.2f us\n", pp * 1e6);
	printf("MSR write: raw filter exit %.2f us, event answered by the tool %.2f us, "
	       "ratio %.2f (target <= 1.25)\n", raw_msr * 1e6, ev_msr * 1e6,
	       ev_msr / (raw_msr + pp));
	printf("page write: raw read-only-slot exit %.2f us, event %.2f us, ratio %.2f "
	       "(target <= 1.25)\n", raw_pg * 1e6, ev_pg * 1e6, ev_pg / (raw_pg + pp));
	printf("MSR events/s: 1 vCPU %.0f, 2 vCPUs %.0f, ratio %.2f\n", 1 / ev_msr, 1 / ev2,
	       ev_msr / ev2);
	bench_read();
	bench_policy();
	return 0;
}
