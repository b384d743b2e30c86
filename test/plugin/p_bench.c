/*
 * Plugin round-trip benchmark (run as: vigild run --plugin p_bench
 * --plugin-arg g_bench.elf). Measures in one run: the raw I/O exit handled in
 * the vCPU thread, the I/O exit through the plugin (wait -> resume), and a
 * bare SOCK_SEQPACKET ping-pong between two processes; prints the ratios.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pharness.h"

#define BENCH_N 2000

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

int main(int argc, char **argv)
{
	struct crosvm_vcpu_event ev;
	struct crosvm_vcpu *v;
	struct vigil_ucall *uc;
	struct ph h;
	double t1, t2, t3, raw, plug, pp;

	PH_CHECK(argc == 2, "usage: p_bench GUEST.elf");
	ph_setup(&h, argv[1], 0);
	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0x600, 4));
	PH_OK(crosvm_start(h.cv));
	PH_OK(crosvm_get_vcpu(h.cv, 0, &v));
	PH_OK(crosvm_vcpu_wait(v, &ev));
	ph_init_vcpu(&h, v, 0, 1);
	PH_OK(crosvm_vcpu_resume(v));
	ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 1);
	t1 = now_us();
	PH_OK(crosvm_vcpu_resume(v));
	ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 2);
	t2 = now_us();
	PH_OK(crosvm_vcpu_resume(v));
	for (unsigned i = 0; i < BENCH_N; i++) {
		PH_OK(crosvm_vcpu_wait(v, &ev));
		PH_CHECK(ph_classify(&h, &ev, &uc) == PH_OTHER && ev.io_access.address == 0x600,
			 "bench exit");
		PH_OK(crosvm_vcpu_resume(v));
	}
	ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 3);
	t3 = now_us();
	PH_OK(crosvm_vcpu_resume(v));
	raw = (t2 - t1) / BENCH_N;
	plug = (t3 - t2) / BENCH_N;
	pp = pingpong_us(BENCH_N);
	printf("raw I/O exit (vCPU thread):        %7.2f us\n", raw);
	printf("I/O exit through the plugin:       %7.2f us\n", plug);
	printf("SOCK_SEQPACKET ping-pong:          %7.2f us\n", pp);
	printf("plugin / (raw + ping-pong) floor:  %7.2f\n", plug / (raw + pp));
	printf("plugin / raw exit:                 %7.2f\n", plug / raw);
	return 0;
}
