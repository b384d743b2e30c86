/*
 * The contract between vigild and a standalone guest (vigild run --guest).
 *
 * vigild loads a freestanding x86-64 ELF, builds long mode before the first
 * KVM_RUN and starts every vCPU at the ELF entry point with:
 *
 *   RDI = vCPU id, RSI = number of vCPUs, RSP = top of that vCPU's boot stack,
 *   RFLAGS = 0x2 (interrupts off), CPL 0, 64-bit code segment.
 *
 * Physical memory below VIGIL_GUEST_LOAD_MIN holds the structures vigild builds
 * (the layout below); ELF segments must load at or above it. The first 4 GiB
 * are identity-mapped with 2 MiB pages, user-accessible, so guest code may drop
 * to CPL3 anywhere. The IDT is present but empty: a guest installs its own
 * gates (an exception before that triple-faults, which vigild reports).
 *
 * This header is shared by host code and freestanding guest code: no libc.
 */
#ifndef VIGIL_GUEST_ABI_H
#define VIGIL_GUEST_ABI_H

#ifdef __ASSEMBLER__
#define VIGIL_UL(x) x
#else
#define VIGIL_UL(x) x##UL
#endif

/* ---- physical layout built by vigild (all identity-mapped) ---- */
#define VIGIL_GUEST_PML4        VIGIL_UL(0x1000)
#define VIGIL_GUEST_PDPT        VIGIL_UL(0x2000)
#define VIGIL_GUEST_PD          VIGIL_UL(0x3000)   /* 4 pages: 0x3000-0x6fff */
#define VIGIL_GUEST_GDT         VIGIL_UL(0x7000)
#define VIGIL_GUEST_IDT         VIGIL_UL(0x8000)   /* 256 x 16-byte gates */
#define VIGIL_GUEST_TSS         VIGIL_UL(0x9000)   /* VIGIL_GUEST_TSS_SIZE per vCPU */
#define VIGIL_GUEST_TSS_SIZE    VIGIL_UL(0x100)  /* TSS + I/O bitmap for ports 0-0x3ff */
#define VIGIL_GUEST_STACKS      VIGIL_UL(0x10000)  /* boot stacks, one per vCPU */
#define VIGIL_GUEST_STACK_SIZE  VIGIL_UL(0x4000)
#define VIGIL_GUEST_MAX_VCPUS   32
#define VIGIL_GUEST_LOAD_MIN    VIGIL_UL(0x100000) /* lowest address an ELF may load at */
#define VIGIL_GUEST_IDENTITY_MAP (VIGIL_UL(4) << 30)

/* ---- GDT selectors ---- */
#define VIGIL_SEL_KCODE   0x08
#define VIGIL_SEL_KDATA   0x10
#define VIGIL_SEL_UCODE32 0x18   /* placeholder so SYSRET's layout works */
#define VIGIL_SEL_UDATA   0x20   /* user data, RPL 3 when loaded: 0x23 */
#define VIGIL_SEL_UCODE   0x28   /* 64-bit user code, RPL 3 when loaded: 0x2b */
#define VIGIL_SEL_TSS(id) (0x40 + 16 * (id))

/* ---- I/O ports the host understands ---- */
/* 16550-style serial transmit register; bytes written go to vigild's log. */
#define VIGIL_PORT_SERIAL   0x3f8
/* 32-bit write: end the VM, the value is vigild's exit status (0-255). */
#define VIGIL_PORT_EXIT     0x0f4
/* 32-bit write: physical address of a struct vigil_ucall. */
#define VIGIL_PORT_UCALL    0x0e8
/* 32-bit write of anything: answered in the vCPU thread, no side effect.
 * The cheapest possible exit, used by benchmarks. */
#define VIGIL_PORT_NOP      0x0ec
/* 0x0e0-0x0e3: the introspection doorbell (VIGIL_KVMI_HYPERCALL_PORT in
 * vigil/kvmi.h): a 32-bit write raises a HYPERCALL event for the attached
 * tool; with no tool attached it is ignored. */
#define VIGIL_PORT_KVMI_DOORBELL 0x0e0

#ifndef __ASSEMBLER__
enum vigil_ucall_cmd {
	VIGIL_UCALL_NONE = 0,
	VIGIL_UCALL_SYNC,    /* args[0] = stage; the host may answer via ret */
	VIGIL_UCALL_PRINT,   /* buf holds a NUL-terminated line */
	VIGIL_UCALL_ASSERT,  /* buf holds "file:line: expr"; ends the VM, status 1 */
	VIGIL_UCALL_DONE,    /* the calling vCPU finished successfully */
	VIGIL_UCALL_BENCH,   /* answered by the reactor (mailbox round trip) */
	VIGIL_UCALL_MAX,
};

#define VIGIL_UCALL_BUF 200

/* Lives in guest memory (identity mapped, below 4 GiB). */
struct vigil_ucall {
	unsigned long long cmd;
	unsigned long long args[4];
	unsigned long long ret;      /* written by the host before resuming */
	char buf[VIGIL_UCALL_BUF];
};
#endif /* !__ASSEMBLER__ */

#endif
