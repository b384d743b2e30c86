/* Demo kernel: structures shared by the kernel and its user programs. */
#ifndef VIGIL_DEMO_KERNEL_H
#define VIGIL_DEMO_KERNEL_H

#include "guest.h"
#include "demo_layout.h"

/* A process's registers while it is in the kernel: the runtime's exception
 * frame (test/guest/guest.h), which the kernel edits to switch processes. */
typedef uint64_t (*syscall_fn)(struct guest_ex_regs *f);

/* User programs (user.c), entered at CPL3 with RDI = pid. */
void prog_primes(uint64_t pid);
void prog_hasher(uint64_t pid);
void prog_sorter(uint64_t pid);
void prog_rootkit(uint64_t pid);

/* User-side system-call stubs (user.c). */
uint64_t demo_sys(uint64_t nr, uint64_t a0, uint64_t a1);

/* The kernel function the rootkit tries to install (user.c). */
uint64_t rootkit_hook(struct guest_ex_regs *f);

/* entry.S */
void demo_syscall_entry(void);
void demo_cstar_entry(void);
__attribute__((noreturn)) void demo_enter_regs(struct guest_ex_regs *r);

#endif
