/* Load an empty IDT and fault: #UD -> #DF -> triple fault. */
#include "guest.h"

void guest_main(unsigned id, unsigned nr)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = { 0, 0 };

	(void)id;
	(void)nr;
	__asm__ volatile("lidt %0; ud2" :: "m"(idtr));
}
