/* Guest of the plugin benchmark: N exits to an unreserved port (handled in
 * the vCPU thread), then N exits to a reserved one (each through the plugin),
 * with a SYNC before, between and after. */
#include "guest.h"

#define BENCH_N 2000

void guest_main(unsigned id, unsigned nr)
{
	(void)nr;
	if (id)
		return;
	GUEST_SYNC(1);
	for (unsigned i = 0; i < BENCH_N; i++)
		outl(0x720, i);          /* unreserved: dropped in the vCPU thread */
	GUEST_SYNC(2);
	for (unsigned i = 0; i < BENCH_N; i++)
		outl(0x600, i);          /* reserved: wait -> resume in the plugin */
	GUEST_SYNC(3);
}
