/*
 * Event storm for the introspection fault tests: each vCPU writes an MSR and
 * a page in a loop (an MSR event and a page-fault event per round when a
 * tool intercepts them) and counts its rounds at FAULT_ROUNDS_GPA, so an
 * observer can tell a running vCPU from a hung one.
 */
#include "fault_abi.h"
#include "guest.h"

void guest_main(unsigned vcpu_id, unsigned nr_vcpus)
{
	volatile uint64_t *rounds = (volatile uint64_t *)FAULT_ROUNDS_GPA;
	volatile uint64_t *page = (volatile uint64_t *)(uintptr_t)(FAULT_STORM_PAGE + 64 * (vcpu_id & 7));

	(void)nr_vcpus;
	for (uint64_t i = 0;; i++) {
		wrmsr(FAULT_STORM_MSR, 0xffffffff81000000ull + i);
		*page = i;
		rounds[vcpu_id & 7]++;
	}
}
