/*
 * Long mode before the first KVM_RUN, the KVM selftests way: vigild writes
 * page tables, GDT, IDT and one TSS per vCPU into guest memory (layout in
 * include/vigil/guest_abi.h) and loads every vCPU's registers so it starts in
 * 64-bit mode at the entry point.
 */
#ifndef VIGIL_X86_SETUP_H
#define VIGIL_X86_SETUP_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct kvm_host;

/* Write the identity map, GDT, IDT and TSSs into @mem (guest physical 0..).
 * @mem_size must cover everything below VIGIL_GUEST_LOAD_MIN. */
int x86_setup_memory(uint8_t *mem, uint64_t mem_size, unsigned nr_vcpus);

/* CPUID, segment/control registers and GPRs of @vcpu: start at @entry with
 * RDI = id, RSI = nr_vcpus, RSP = its boot stack. */
int x86_setup_vcpu(struct vcpu *vcpu, const struct kvm_host *kvm, uint64_t entry,
		   unsigned nr_vcpus);

struct kvm_sregs;
struct kvm_regs;
/* Fill @sr (segments, TR, GDT/IDT, CR0/3/4, EFER) for vCPU @id in the layout
 * of guest_abi.h; for callers that load state through another API (a plugin). */
void x86_sregs_long_mode(struct kvm_sregs *sr, unsigned id);
/* GPRs for vCPU @id starting at @entry: RDI = id, RSI = nr_vcpus, its stack. */
void x86_regs_entry(struct kvm_regs *regs, unsigned id, unsigned nr_vcpus, uint64_t entry);

/*
 * Walk 4-level page tables in @mem from @cr3 for @gva. Returns 0 and the
 * physical address, -EFAULT if not mapped or a table lies outside @mem.
 * (Used by the tests of the builder; the introspection engine has its own
 * walker for every paging mode.)
 */
int x86_walk_4level(const uint8_t *mem, uint64_t mem_size, uint64_t cr3, uint64_t gva,
		    uint64_t *gpa, bool *user, bool *writable);

#endif
