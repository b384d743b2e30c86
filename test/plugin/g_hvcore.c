/* Guest of the Hyper-V core tests: SynIC MSR writes (the host enabled SynIC
 * and set Hyper-V CPUID leaves on vCPU 0), each one a KVM_EXIT_HYPERV. */
#include "guest.h"

#define HV_MSR_SCONTROL 0x40000080
#define HV_MSR_SIEFP    0x40000082

static uint8_t evt_page[4096] __attribute__((aligned(4096)));

void guest_main(unsigned id, unsigned nr)
{
	(void)nr;
	if (id != 0)
		return;
	wrmsr(HV_MSR_SCONTROL, 1);
	wrmsr(HV_MSR_SIEFP, (uint64_t)(uintptr_t)evt_page | 1);
}
