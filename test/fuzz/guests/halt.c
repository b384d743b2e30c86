/* Guest for the introspection fuzz target and fault tests: every vCPU halts
 * with interrupts off, so it costs nothing until vigild kicks it (a pause). */
#include "guest.h"

void guest_main(unsigned vcpu_id, unsigned nr_vcpus)
{
	(void)vcpu_id;
	(void)nr_vcpus;
	for (;;)
		__asm__ volatile("cli; hlt");
}
