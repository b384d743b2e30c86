/* Serial console and printf from every vCPU, then done. */
#include "guest.h"

void guest_main(unsigned id, unsigned nr)
{
	if (id == 0)
		guest_puts_serial("hello from the vigil test guest\n");
	GUEST_PRINTF("vCPU %u of %u reporting\n", id, nr);
}
