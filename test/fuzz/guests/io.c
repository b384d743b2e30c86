/*
 * Guest for fuzz_plugin_io: every vCPU does port and MMIO accesses inside
 * ranges the harness reserved, so it is always either parked on the plugin
 * (synchronous ranges) or queueing async writes (until throttled). Values
 * read are folded into what is written next; nothing else depends on them.
 */
#include "guest.h"

#define IO_PORT(id)  (0x510 + 0x10 * (id))   /* +0 sync out, +1 sync in, +2 async out */
#define IO_MMIO(id)  (0xd0000000ull + 0x100 * (id))

void guest_main(unsigned vcpu_id, unsigned nr_vcpus)
{
	volatile uint32_t *mmio = (volatile uint32_t *)(uintptr_t)IO_MMIO(vcpu_id & 1);
	uint16_t port = (uint16_t)IO_PORT(vcpu_id & 1);
	uint32_t v = vcpu_id;

	(void)nr_vcpus;
	for (;;) {
		outl(port, v);
		v += inb(port + 1);
		outb(port + 2, (uint8_t)v);
		outb(port + 2, (uint8_t)(v >> 8));
		mmio[0] = v;
		v ^= mmio[1];
	}
}
