/* Entry, exception stubs and the CPL0 <-> CPL3 switch for test guests. */
#include <vigil/guest_abi.h>

	.section .text.start, "ax"
	.globl _start
_start:
	/* rdi = vCPU id, rsi = nr vCPUs, rsp = boot stack (set by vigild) */
	xor %ebp, %ebp
	call guest_rt_start
1:	cli
	hlt
	jmp 1b

	.text
/* Exception stubs: vectors that push no error code get a zero one. */
.macro ISR_NOERR vec
	.globl guest_isr_\vec
guest_isr_\vec:
	pushq $0
	pushq $\vec
	jmp guest_isr_common
.endm
.macro ISR_ERR vec
	.globl guest_isr_\vec
guest_isr_\vec:
	pushq $\vec
	jmp guest_isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
/* #UD: the ud2 at guest_user_exit is user code handing back its result. */
	.globl guest_isr_6
guest_isr_6:
	push %rax
	lea guest_user_exit(%rip), %rax
	cmp %rax, 8(%rsp)
	pop %rax
	je guest_user_return
	pushq $0
	pushq $6
	jmp guest_isr_common
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31

guest_isr_common:
	/* Build struct guest_ex_regs below the vector/error code. */
	pushq %r15
	pushq %r14
	pushq %r13
	pushq %r12
	pushq %r11
	pushq %r10
	pushq %r9
	pushq %r8
	pushq %rdi
	pushq %rsi
	pushq %rbp
	pushq %rbx
	pushq %rdx
	pushq %rcx
	pushq %rax
	mov %rsp, %rdi
	mov %rsp, %rbx
	and $-16, %rsp
	call guest_handle_exception
	mov %rbx, %rsp
	popq %rax
	popq %rcx
	popq %rdx
	popq %rbx
	popq %rbp
	popq %rsi
	popq %rdi
	popq %r8
	popq %r9
	popq %r10
	popq %r11
	popq %r12
	popq %r13
	popq %r14
	popq %r15
	add $16, %rsp
	iretq

/* uint64_t guest_run_user(uint64_t (*fn)(uint64_t), uint64_t arg, void *stack_top) */
	.globl guest_run_user
guest_run_user:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	/* this vCPU's id from the boot stack it runs on */
	mov %rsp, %rax
	sub $VIGIL_GUEST_STACKS, %rax
	shr $14, %rax
	lea guest_kernel_sp(%rip), %r8
	mov %rsp, (%r8,%rax,8)
	/* interrupts from user mode land just below this frame: TSS.RSP0 */
	mov %rax, %r9
	shl $8, %r9                 /* VIGIL_GUEST_TSS_SIZE */
	add $VIGIL_GUEST_TSS, %r9
	mov %rsp, %r10
	and $-16, %r10
	mov %r10, 4(%r9)
	mov %rdi, %r12
	mov %rsi, %rdi
	pushq $(VIGIL_SEL_UDATA | 3)
	pushq %rdx
	pushq $0x0002              /* interrupts off; ports via the TSS I/O bitmap */
	pushq $(VIGIL_SEL_UCODE | 3)
	lea guest_user_trampoline(%rip), %rax
	pushq %rax
	iretq

guest_user_trampoline:
	and $-16, %rsp
	call *%r12
	mov %rax, %rdi
	/* Back to CPL0 through #UD: software interrupts (int n) from user mode
	 * are not available on every KVM (kvm_pvm), exceptions are. */
	.globl guest_user_exit
guest_user_exit:
	ud2

/* Reached from the #UD stub: user code is done, result in rdi. */
guest_user_return:
	mov %rsp, %rax
	sub $VIGIL_GUEST_STACKS, %rax
	shr $14, %rax
	lea guest_kernel_sp(%rip), %r8
	mov (%r8,%rax,8), %rsp
	mov %rdi, %rax
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

	.bss
	.align 8
	.globl guest_kernel_sp
guest_kernel_sp:
	.skip 8 * VIGIL_GUEST_MAX_VCPUS

	.section .note.GNU-stack, "", @progbits
