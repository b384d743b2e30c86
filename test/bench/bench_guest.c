/* Benchmark guest: from CPL3 (native speed here), N ucalls handled in the
 * vCPU thread, then N ucalls answered by the reactor, between markers. */
#include "guest.h"

#define MARK_START  1
#define MARK_MID    2
#define MARK_END    3
#define MEASURED    100

static uint8_t user_stack[8192] __attribute__((aligned(16)));

static uint64_t run(uint64_t n)
{
	uint64_t i;

	GUEST_SYNC(MARK_START);
	for (i = 0; i < n; i++)
		GUEST_SYNC(MEASURED);
	GUEST_SYNC(MARK_MID);
	for (i = 0; i < n; i++)
		guest_ucall(VIGIL_UCALL_BENCH, 0, 0, NULL);
	GUEST_SYNC(MARK_END);
	return 0;
}

void guest_main(unsigned id, unsigned nr)
{
	uint64_t n = GUEST_SYNC(0);   /* the host says how many */

	(void)nr;
	if (id == 0)
		guest_run_user(run, n, user_stack + sizeof(user_stack));
}
