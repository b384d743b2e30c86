/*
 * Demo kernel: the system-call entry and the first entry to user mode.
 *
 * LSTAR points at demo_syscall_entry, a ud2: the #UD handler recognises the
 * address and treats the trap as the system call (return address in RCX,
 * flags in R11, as syscall left them). Going through an exception gives the
 * kernel a proper CPL0 frame on TSS.RSP0 on every KVM; on kvm_pvm, syscall
 * itself reaches LSTAR without leaving CPL3. The way back is the runtime's
 * iretq.
 */
	.text
	.globl demo_syscall_entry
demo_syscall_entry:
	ud2

/* void demo_enter_regs(struct guest_ex_regs *r): load the registers and the
 * interrupt frame at r (on the kernel stack) and iretq; never returns. */
	.globl demo_enter_regs
demo_enter_regs:
	mov %rdi, %rsp
	pop %rax
	pop %rcx
	pop %rdx
	pop %rbx
	pop %rbp
	pop %rsi
	pop %rdi
	pop %r8
	pop %r9
	pop %r10
	pop %r11
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	add $16, %rsp            /* vector, error code */
	iretq

/* Compatibility-mode syscall target (CSTAR): no 32-bit processes here. */
	.globl demo_cstar_entry
demo_cstar_entry:
	ud2

	.section .note.GNU-stack, "", @progbits
