/*
 * Guest for the fault-injection tests. vCPU 0 talks to the plugin without
 * pause: a write to FAULT_PORT_OUT then a read of FAULT_PORT_IN, both in a
 * range the plugin reserved, so the vCPU waits on the plugin almost all the
 * time. Other vCPUs write to an unreserved port (dropped by vigild without
 * the plugin) and count their rounds at FAULT_ROUNDS_GPA: they must keep running
 * while vCPU 0 waits on a plugin that stopped answering.
 */
#include "fault_abi.h"
#include "guest.h"

void guest_main(unsigned vcpu_id, unsigned nr_vcpus)
{
	volatile uint64_t *rounds = (volatile uint64_t *)FAULT_ROUNDS_GPA;
	uint32_t v = 0;

	(void)nr_vcpus;
	for (;;) {
		if (vcpu_id == 0) {
			outl(FAULT_PORT_OUT, v);
			v += inb(FAULT_PORT_IN);
		} else {
			outb(FAULT_PORT_FREE, (uint8_t)v++);
			rounds[vcpu_id & 7]++;
		}
	}
}
