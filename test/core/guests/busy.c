/* Spins forever in user mode (native speed here): for SIGTERM tests. */
#include "guest.h"

static uint8_t user_stack[VIGIL_GUEST_MAX_VCPUS][8192] __attribute__((aligned(16)));

static uint64_t spin(uint64_t arg)
{
	volatile uint64_t n = arg;

	for (;;)
		n++;
	return n;
}

void guest_main(unsigned id, unsigned nr)
{
	(void)nr;
	if (id == 0)
		guest_puts_serial("busy guest spinning\n");
	guest_run_user(spin, 0, user_stack[id] + sizeof(user_stack[id]));
}
