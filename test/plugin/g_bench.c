/* Guest of the plugin benchmark: BENCH_ROUNDS rounds, each N exits to an
 * unreserved port (handled in the vCPU thread), then N exits to a reserved
 * one (each through the plugin), with a SYNC before, between and after
 * (stages 3r+1, 3r+2, 3r+3 for round r). */
#include "guest.h"

#define BENCH_N      2000
#define BENCH_ROUNDS 5

void guest_main(unsigned id, unsigned nr)
{
	(void)nr;
	if (id)
		return;
	for (unsigned r = 0; r < BENCH_ROUNDS; r++) {
		GUEST_SYNC(3 * r + 1);
		for (unsigned i = 0; i < BENCH_N; i++)
			outl(0x720, i);          /* unreserved: dropped in the vCPU thread */
		GUEST_SYNC(3 * r + 2);
		for (unsigned i = 0; i < BENCH_N; i++)
			outl(0x600, i);          /* reserved: wait -> resume in the plugin */
		GUEST_SYNC(3 * r + 3);
	}
}
