/*
 * vfio-user costs seen from a guest, as ratios against a baseline measured in
 * the same run: a port write vigild answers in the vCPU thread (the cheapest
 * exit). Phases: trapped BAR read (REGION_READ round trip to vu-dma), read of
 * an mmap'ed BAR page (no exit at all), and an 8 KiB DMA copy with guest RAM
 * mapped by memfd versus served by DMA_READ/DMA_WRITE messages.
 *
 * Usage: bench_vfio   (prints one line per phase; needs /dev/kvm)
 * Each phase is timed between two SYNC ucalls (host clock), so the per-op
 * figures include the guest's own loop (CPL0 code is emulated on kvm_pvm).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vfio_dev.h"
#include "vfio_guest.h"
#include "vu_test_util.h"

static double stamp[BENCH_END + 1];

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void on_sync(struct vcpu *vcpu, struct vigil_ucall *uc, void *opaque)
{
	(void)vcpu;
	(void)opaque;
	if (uc->args[0] == SYNC_SCENARIO)
		uc->ret = SCENARIO_BENCH;
	else if (uc->args[0] == SYNC_BENCH && uc->args[1] <= BENCH_END)
		stamp[uc->args[1]] = now_us();
}

static int run(const char *opts, double *per)
{
	struct tvm t;
	struct vu_srv srv;
	struct vfio_set *set = NULL;
	char spec[256], why[256];
	const char *args[1] = { spec };
	int status = -1;

	if (vu_srv_start(&srv, NULL, NULL) || vu_srv_wait_ready(&srv))
		return -1;
	snprintf(spec, sizeof(spec), "vfio-user,socket=%s,%s", srv.path, opts);
	if (tvm_boot(&t, VFIO_GUEST_DMA, 1, 32 << 20) == 0 &&
	    vfio_set_new(&set, t.vm, args, 1, why, sizeof(why)) == 0) {
		t.ports.on_sync = on_sync;
		status = tvm_run(&t, 120000);
	}
	vfio_set_free(&set);
	tvm_free(&t);
	vu_srv_stop(&srv);
	for (int p = BENCH_NOP; p < BENCH_END; p++)
		per[p] = (stamp[p + 1] - stamp[p]) /
			 (p == BENCH_DMA_COPY ? BENCH_COPIES : BENCH_ITERS);
	return status;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define ROUNDS 3

/* Median over ROUNDS of each phase. */
static void median(double r[ROUNDS][BENCH_END + 1], double *out)
{
	for (int p = BENCH_NOP; p < BENCH_END; p++) {
		double v[ROUNDS];

		for (int i = 0; i < ROUNDS; i++)
			v[i] = r[i][p];
		qsort(v, ROUNDS, sizeof(v[0]), cmp_double);
		out[p] = v[ROUNDS / 2];
	}
}

int main(void)
{
	double rf[ROUNDS][BENCH_END + 1], rm[ROUNDS][BENCH_END + 1];
	double fd[BENCH_END + 1], msg[BENCH_END + 1];

	/* Alternate the two modes: this machine's load drifts between runs. */
	for (int i = 0; i < ROUNDS; i++) {
		if (run("dma=fd", rf[i]) || run("dma=msg", rm[i])) {
			fprintf(stderr, "bench_vfio: a run failed\n");
			return 1;
		}
	}
	median(rf, fd);
	median(rm, msg);
	printf("median of %d alternating runs per DMA mode\n", ROUNDS);
	printf("baseline port exit      %8.2f us  1.00x\n", fd[BENCH_NOP]);
	printf("trapped BAR read        %8.2f us  %.2fx\n", fd[BENCH_BAR_TRAPPED],
	       fd[BENCH_BAR_TRAPPED] / fd[BENCH_NOP]);
	printf("mmap'ed BAR read        %8.2f us  %.2fx\n", fd[BENCH_BAR_MAPPED],
	       fd[BENCH_BAR_MAPPED] / fd[BENCH_NOP]);
	printf("8 KiB DMA copy, memfd   %8.2f us  %.2fx\n", fd[BENCH_DMA_COPY],
	       fd[BENCH_DMA_COPY] / fd[BENCH_NOP]);
	printf("8 KiB DMA copy, message %8.2f us  %.2fx (%.2fx the memfd copy)\n",
	       msg[BENCH_DMA_COPY], msg[BENCH_DMA_COPY] / msg[BENCH_NOP],
	       msg[BENCH_DMA_COPY] / fd[BENCH_DMA_COPY]);
	return 0;
}
