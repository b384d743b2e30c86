/*
 * Core benchmark: what does a trip through the reactor mailbox cost?
 *   (a) a guest exit handled entirely in the vCPU thread (ucall round trip)
 *   (b) the same exit answered by the reactor through the mailbox
 *   (c) a bare eventfd ping-pong between two threads: the floor of any hand-off
 * Prints ((b) - (a)) / (c). Usage: core_bench [N [SPIN_US]] (default 20000, 200):
 * SPIN_US is how long the vCPU polls for the answer before sleeping.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct marks {
	uint64_t n;
	double t[4];
};

static void on_sync(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	struct marks *m = opaque;

	(void)vcpu;
	if (uc->args[0] == 0)
		uc->ret = m->n;
	else if (uc->args[0] < 4)
		m->t[uc->args[0]] = now_us();
}

struct pingpong {
	int a, b;
	uint64_t n;
};

static void *pong(void *arg)
{
	struct pingpong *p = arg;
	uint64_t v, i;

	for (i = 0; i < p->n; i++) {
		if (read(p->a, &v, sizeof(v)) != sizeof(v) || write(p->b, &v, sizeof(v)) != sizeof(v))
			break;
	}
	return NULL;
}

static double eventfd_pingpong_us(uint64_t n)
{
	struct pingpong p = { eventfd(0, 0), eventfd(0, 0), n };
	uint64_t v = 1, i;
	pthread_t th;
	double t0, t1;

	if (p.a < 0 || p.b < 0 || pthread_create(&th, NULL, pong, &p))
		return -1;
	t0 = now_us();
	for (i = 0; i < n; i++) {
		if (write(p.a, &v, sizeof(v)) != sizeof(v) || read(p.b, &v, sizeof(v)) != sizeof(v))
			break;
	}
	t1 = now_us();
	pthread_join(th, NULL);
	close(p.a);
	close(p.b);
	return (t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
	struct marks m = { .n = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000 };
	struct tvm t;
	double a, b, c;
	int status;

	if (!m.n) {
		fprintf(stderr, "usage: core_bench [N>0]\n");
		return 64;
	}
	if (tvm_boot_spin(&t, BENCH_GUEST, 1, 16 << 20,
			  argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 0) < 0)
		return 1;
	t.ports.on_sync = on_sync;
	t.ports.on_sync_opaque = &m;
	status = tvm_run(&t, 600000);
	tvm_free(&t);
	if (status != 0) {
		fprintf(stderr, "core_bench: guest failed (status %d)\n", status);
		return 1;
	}
	a = (m.t[2] - m.t[1]) / (double)m.n;
	b = (m.t[3] - m.t[2]) / (double)m.n;
	c = eventfd_pingpong_us(m.n);
	printf("core_bench: N = %llu exits from CPL3, vCPU poll %s us\n", (unsigned long long)m.n,
	       argc > 2 ? argv[2] : "200 (default)");
	printf("  (a) exit handled in the vCPU thread     %8.2f us\n", a);
	printf("  (b) exit answered through the mailbox   %8.2f us\n", b);
	printf("  (c) eventfd ping-pong, two threads      %8.2f us\n", c);
	printf("  mailbox cost (b - a) / (c)              %8.2f  (target <= 1.2)\n", (b - a) / c);
	printf("  (b) / (a)                               %8.2f\n", b / a);
	return 0;
}
