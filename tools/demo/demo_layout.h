/*
 * Fixed physical and virtual layout of the demo guest, shared by its kernel,
 * its user programs and the policy file tools/demo/demo-policy.json (whose
 * addresses must match the values here).
 */
#ifndef VIGIL_DEMO_LAYOUT_H
#define VIGIL_DEMO_LAYOUT_H

/* The system-call table: one page of kernel memory at a fixed address. */
#define DEMO_SCT_GPA        0x200000UL
#define DEMO_NR_SYSCALLS    5

/* Per-process memory: 16 pages each from DEMO_PROC_BASE, process p at
 * DEMO_PROC_BASE + p * DEMO_PROC_STRIDE. Page 0 is the PML4 (so that is the
 * process's CR3), 1-3 its private PDPT/PD/PT, 4.. its private pages. */
#define DEMO_PROC_BASE      0x300000UL
#define DEMO_PROC_STRIDE    0x10000UL
#define DEMO_NR_PROCS       4
#define DEMO_CR3(p)         (DEMO_PROC_BASE + (unsigned long)(p) * DEMO_PROC_STRIDE)

/* Private user region (PML4 slot 1): same addresses in every process,
 * different physical pages. */
#define DEMO_USER_BASE      0x8000000000UL
#define DEMO_USER_DATA      (DEMO_USER_BASE + 0x0000)  /* private data page */
#define DEMO_USER_SCRATCH   (DEMO_USER_BASE + 0x1000)  /* rootkit's payload page */
#define DEMO_USER_STACK_TOP (DEMO_USER_BASE + 0x4000)  /* two stack pages below */
#define DEMO_USER_PAGES     4

/* The rootkit is process 3. */
#define DEMO_ROOTKIT_PID    3

/* System calls (syscall instruction, number in RAX, args in RDI, RSI). */
#define SYS_WRITE   0   /* (const char *buf, size_t len) */
#define SYS_YIELD   1
#define SYS_EXIT    2   /* (int code) */
#define SYS_GETPID  3
#define SYS_POKE    4   /* (uint64_t *addr, uint64_t val): a deliberately unchecked debug call */

/* Hypercall doorbell values (port VIGIL_KVMI_HYPERCALL_PORT, value in EAX):
 * HELLO asks an attached vigil tool to answer READY in RAX (docs/cli.md). */
#define DEMO_HC_HELLO       0x56474c31u   /* "1LGV" */
#define DEMO_HC_READY       0x52454459u   /* "YDER" */

/* What a hijacked getpid returns. */
#define DEMO_HOOKED         0x1337UL

#endif
