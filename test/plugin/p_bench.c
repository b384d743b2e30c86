/*
 * Plugin round-trip benchmark (run as: vigild run --plugin p_bench
 * --plugin-arg g_bench.elf). Measures in one run, in BENCH_ROUNDS interleaved
 * rounds: the raw I/O exit handled in the vCPU thread, the I/O exit through
 * the plugin (wait -> resume), and a bare SOCK_SEQPACKET ping-pong between two
 * processes. Prints every round, then the ratios of the best (lowest) figures.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pharness.h"

#define BENCH_N      2000
#define BENCH_ROUNDS 5         /* both must match g_bench.c */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double pingpong_us(unsigned n)
{
	int sv[2];
	char b = 0;
	double t0, t;
	pid_t pid;

	PH_OK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	pid = fork();
	if (pid == 0) {
		for (unsigned i = 0; i < n; i++)
			if (recv(sv[1], &b, 1, 0) != 1 || send(sv[1], &b, 1, 0) != 1)
				_exit(1);
		_exit(0);
	}
	t0 = now_us();
	for (unsigned i = 0; i < n; i++)
		PH_CHECK(send(sv[0], &b, 1, 0) == 1 && recv(sv[0], &b, 1, 0) == 1, "pingpong");
	t = (now_us() - t0) / n;
	waitpid(pid, NULL, 0);
	close(sv[0]);
	close(sv[1]);
	return t;
}

static double min_of(const double *v, unsigned n)
{
	double m = v[0];

	for (unsigned i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

/* One round: the vCPU is stopped on SYNC(3r+1) on entry, on SYNC(3r+3) on return. */
static void bench_round(struct ph *h, struct crosvm_vcpu *v, unsigned r, double *raw,
			double *plug)
{
	struct crosvm_vcpu_event ev;
	struct vigil_ucall *uc;
	double t1, t2, t3;

	t1 = now_us();
	PH_OK(crosvm_vcpu_resume(v));
	ph_expect_ucall(h, v, VIGIL_UCALL_SYNC, 3 * r + 2);
	t2 = now_us();
	PH_OK(crosvm_vcpu_resume(v));
	for (unsigned i = 0; i < BENCH_N; i++) {
		PH_OK(crosvm_vcpu_wait(v, &ev));
		PH_CHECK(ph_classify(h, &ev, &uc) == PH_OTHER && ev.io_access.address == 0x600,
			 "bench exit");
		PH_OK(crosvm_vcpu_resume(v));
	}
	ph_expect_ucall(h, v, VIGIL_UCALL_SYNC, 3 * r + 3);
	t3 = now_us();
	*raw = (t2 - t1) / BENCH_N;
	*plug = (t3 - t2) / BENCH_N;
}

int main(int argc, char **argv)
{
	struct crosvm_vcpu_event ev;
	struct crosvm_vcpu *v;
	struct ph h;
	double raw[BENCH_ROUNDS], plug[BENCH_ROUNDS], pp[BENCH_ROUNDS], braw, bplug, bpp;

	PH_CHECK(argc == 2, "usage: p_bench GUEST.elf");
	ph_setup(&h, argv[1], 0);
	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0x600, 4));
	PH_OK(crosvm_start(h.cv));
	PH_OK(crosvm_get_vcpu(h.cv, 0, &v));
	PH_OK(crosvm_vcpu_wait(v, &ev));
	ph_init_vcpu(&h, v, 0, 1);
	PH_OK(crosvm_vcpu_resume(v));
	for (unsigned r = 0; r < BENCH_ROUNDS; r++) {
		ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 3 * r + 1);
		bench_round(&h, v, r, &raw[r], &plug[r]);
		/* The vCPU stays stopped on the SYNC while the baseline runs. */
		pp[r] = pingpong_us(BENCH_N);
		printf("round %u: raw %7.2f us, plugin %7.2f us, ping-pong %7.2f us: %5.2f\n", r + 1,
		       raw[r], plug[r], pp[r], plug[r] / (raw[r] + pp[r]));
		PH_OK(crosvm_vcpu_resume(v));
	}
	braw = min_of(raw, BENCH_ROUNDS);
	bplug = min_of(plug, BENCH_ROUNDS);
	bpp = min_of(pp, BENCH_ROUNDS);
	printf("best of %u rounds:\n", BENCH_ROUNDS);
	printf("raw I/O exit (vCPU thread):        %7.2f us\n", braw);
	printf("I/O exit through the plugin:       %7.2f us\n", bplug);
	printf("SOCK_SEQPACKET ping-pong:          %7.2f us\n", bpp);
	printf("plugin / (raw + ping-pong) floor:  %7.2f\n", bplug / (braw + bpp));
	printf("plugin / raw exit:                 %7.2f\n", bplug / braw);
	return 0;
}
