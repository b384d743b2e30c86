/*
 * Cost of device DMA as introspection events, as ratios against a baseline
 * measured in the same run: the guest has the vu-dma device copy 256 bytes
 * (doorbell REGION_WRITE -> the server's DMA_READ and DMA_WRITE messages ->
 * REGION_READ of STATUS) N times, with
 *   off     trace-dma=on, the tool attached, DMA event disabled (baseline)
 *   notify  DMA event enabled: two notifications per copy, no waiting
 *   ask     the destination write-protected: the write is a question the
 *           tool (this process) answers ALLOW; the device waits for it.
 * Each mode runs ROUNDS times interleaved; the best round counts.
 *
 * Usage: kvmi_dma_bench [N]   (copies per round, default 500)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvmi_test_abi.h"
#include "vigil_kvmi.h"

#define ROUNDS 5
#define CTL_OFF(f) (KT_CTL + offsetof(struct kt_ctl, f))

enum mode { MODE_OFF, MODE_NOTIFY, MODE_ASK, NR_MODES };
static const char *const mode_names[NR_MODES] = { "off", "notify", "ask" };

static pid_t srv, vigild;
static char srv_path[108], sock[108];
static struct vigil_kvmi *c;
static struct kt_ctl ctl;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "kvmi_dma_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	if (vigild > 0)
		kill(vigild, SIGKILL);
	if (srv > 0)
		kill(srv, SIGKILL);
	exit(1);
}

static pid_t spawn(const char *const *argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void start(void)
{
	char arg[140], spec[200];
	const char *sargv[] = { VU_DMA_SERVER, arg, NULL };
	const char *vargv[] = { VIGILD_PATH, "run", "--guest", KT_GUEST, "--mem", "16M",
				"--console", "log", "--introspect", sock, "--device", spec, NULL };
	int e = -ENOENT;

	snprintf(srv_path, sizeof(srv_path), "/tmp/kvmi-dma-bench-%d.dev", getpid());
	snprintf(sock, sizeof(sock), "/tmp/kvmi-dma-bench-%d.sock", getpid());
	snprintf(arg, sizeof(arg), "--socket-path=%s", srv_path);
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s,trace-dma=on", srv_path);
	srv = spawn(sargv);
	for (int i = 0; i < 1000 && access(srv_path, F_OK); i++)
		usleep(5000);
	vigild = spawn(vargv);
	for (int i = 0; i < 1000 && e; i++) {
		e = vigil_kvmi_connect(sock, 5000, &c);
		if (e)
			usleep(10000);
	}
	if (e)
		die("connect", e);
	do {
		e = vigil_kvmi_read_physical(c, KT_CTL, &ctl, sizeof(ctl), NULL);
	} while (!e && !ctl.ready);
	if (e)
		die("read_physical", e);
}

static void put(uint64_t gpa, uint64_t v)
{
	int e = vigil_kvmi_write_physical(c, gpa, &v, sizeof(v), 0, NULL);

	if (e)
		die("write_physical", e);
}

static uint64_t get(uint64_t gpa)
{
	uint64_t v = 0;
	int e = vigil_kvmi_read_physical(c, gpa, &v, sizeof(v), NULL);

	if (e)
		die("read_physical", e);
	return v;
}

static void set_mode(enum mode m)
{
	struct vigil_kvmi_page_entry e = { .gpa = ctl.dma_dst, .access = VIGIL_KVMI_PAGE_RWX };
	int r;

	if (m == MODE_ASK)
		e.access = VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X;
	r = vigil_kvmi_set_page_access(c, &e, 1, NULL);
	if (!r)
		r = vigil_kvmi_control_events(c, VIGIL_KVMI_ALL_VCPUS,
					      m == MODE_OFF ? VIGIL_KVMI_EVENTS_DISABLE :
							      VIGIL_KVMI_EVENTS_ENABLE,
					      VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA), NULL);
	if (r)
		die("set mode", r);
}

/* Answer what is queued; true if anything was. */
static bool answer(void)
{
	struct vigil_kvmi_ev ev;
	bool any = false;

	while (vigil_kvmi_pop_event(c, &ev) == 0) {
		any = true;
		if (vigil_kvmi_event_needs_reply(&ev))
			vigil_kvmi_reply_event(c, &ev, VIGIL_KVMI_ACTION_ALLOW, 0, 0, NULL, 0);
	}
	return any;
}

/* Seconds for @n copies in mode @m. */
static double round_time(enum mode m, unsigned n)
{
	uint64_t req = get(CTL_OFF(dma_req)) + n;
	double t0;

	set_mode(m);
	t0 = now();
	put(CTL_OFF(dma_req), req);
	for (;;) {
		struct pollfd p = { .fd = vigil_kvmi_fd(c), .events = POLLIN };

		if (poll(&p, 1, 1) > 0 && vigil_kvmi_wait_event(c, 0) == 0 && answer())
			continue;
		if (get(CTL_OFF(dma_done)) >= req)
			break;
	}
	t0 = now() - t0;
	answer();
	if (get(CTL_OFF(dma_status)) != 1)
		die("a copy failed", EIO);
	return t0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 500;
	double best[NR_MODES];

	if (!n)
		n = 500;
	start();
	put(CTL_OFF(dma_len), 256);
	put(CTL_OFF(scenario), KT_DMA);
	put(CTL_OFF(go), 1);
	for (int m = 0; m < NR_MODES; m++)
		best[m] = 1e9;
	for (int r = 0; r < ROUNDS; r++)
		for (int m = 0; m < NR_MODES; m++) {
			double t = round_time((enum mode)m, n);

			if (t < best[m])
				best[m] = t;
		}
	printf("vu-dma copies of 256 bytes (DMA_READ + DMA_WRITE by message), %u per round, "
	       "best of %d:\n", n, ROUNDS);
	for (int m = 0; m < NR_MODES; m++)
		printf("  %-7s %8.1f us/copy  ratio %.2f\n", mode_names[m], best[m] / n * 1e6,
		       best[m] / best[MODE_OFF]);
	printf("  ask - notify = %.1f us: a DMA_WRITE held for an event and the tool's ALLOW\n",
	       (best[MODE_ASK] - best[MODE_NOTIFY]) / n * 1e6);
	put(CTL_OFF(stop), 1);
	vigil_kvmi_close(&c);
	kill(vigild, SIGTERM);
	waitpid(vigild, NULL, 0);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	unlink(srv_path);
	return 0;
}
