/* Test-guest runtime: start-up, IDT, ucalls, printf, exceptions. */
#include "guest.h"

extern char guest_isr_0[], guest_isr_1[], guest_isr_2[], guest_isr_3[], guest_isr_4[],
	guest_isr_5[], guest_isr_6[], guest_isr_7[], guest_isr_8[], guest_isr_9[],
	guest_isr_10[], guest_isr_11[], guest_isr_12[], guest_isr_13[], guest_isr_14[],
	guest_isr_15[], guest_isr_16[], guest_isr_17[], guest_isr_18[], guest_isr_19[],
	guest_isr_20[], guest_isr_21[], guest_isr_22[], guest_isr_23[], guest_isr_24[],
	guest_isr_25[], guest_isr_26[], guest_isr_27[], guest_isr_28[], guest_isr_29[],
	guest_isr_30[], guest_isr_31[];

static char *const isr_table[32] = {
	guest_isr_0, guest_isr_1, guest_isr_2, guest_isr_3, guest_isr_4, guest_isr_5,
	guest_isr_6, guest_isr_7, guest_isr_8, guest_isr_9, guest_isr_10, guest_isr_11,
	guest_isr_12, guest_isr_13, guest_isr_14, guest_isr_15, guest_isr_16, guest_isr_17,
	guest_isr_18, guest_isr_19, guest_isr_20, guest_isr_21, guest_isr_22, guest_isr_23,
	guest_isr_24, guest_isr_25, guest_isr_26, guest_isr_27, guest_isr_28, guest_isr_29,
	guest_isr_30, guest_isr_31,
};

static guest_ex_handler handlers[32];

static void idt_set(unsigned vec, void *fn)
{
	uint64_t a = (uint64_t)fn;
	uint32_t *gate = (uint32_t *)(VIGIL_GUEST_IDT + vec * 16);

	/* 64-bit interrupt gate, present, kernel code segment. */
	gate[0] = (uint32_t)(a & 0xffff) | ((uint32_t)VIGIL_SEL_KCODE << 16);
	gate[1] = (uint32_t)(a & 0xffff0000) | 0x8e00;
	gate[2] = (uint32_t)(a >> 32);
	gate[3] = 0;
}

void guest_rt_start(unsigned id, unsigned nr);
void guest_rt_start(unsigned id, unsigned nr)
{
	unsigned v;

	/* Every vCPU writes the same gates: no ordering needed between them. */
	for (v = 0; v < 32; v++)
		idt_set(v, isr_table[v]);
	guest_main(id, nr);
	GUEST_DONE();
}

unsigned guest_vcpu_id(void)
{
	uint64_t sp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return (unsigned)((sp - VIGIL_GUEST_STACKS) / VIGIL_GUEST_STACK_SIZE);
}

void guest_set_handler(unsigned vector, guest_ex_handler fn)
{
	if (vector < 32)
		handlers[vector] = fn;
}

void guest_handle_exception(struct guest_ex_regs *regs);
void guest_handle_exception(struct guest_ex_regs *regs)
{
	if (regs->vector < 32 && handlers[regs->vector]) {
		handlers[regs->vector](regs);
		return;
	}
	guest_assert_fail(__FILE__, __LINE__, "unexpected exception",
			  "vector %llu, error code 0x%llx, rip 0x%llx, cs 0x%llx",
			  (unsigned long long)regs->vector, (unsigned long long)regs->error_code,
			  (unsigned long long)regs->rip, (unsigned long long)regs->cs);
}

uint64_t guest_ucall(uint64_t cmd, uint64_t a0, uint64_t a1, const char *text)
{
	struct vigil_ucall uc;
	size_t i = 0;

	uc.cmd = cmd;
	uc.args[0] = a0;
	uc.args[1] = a1;
	uc.args[2] = uc.args[3] = 0;
	uc.ret = 0;
	if (text)
		for (; text[i] && i < VIGIL_UCALL_BUF - 1; i++)
			uc.buf[i] = text[i];
	uc.buf[i] = '\0';
	outl(VIGIL_PORT_UCALL, (uint32_t)(uint64_t)&uc);
	return uc.ret;   /* outl clobbers memory: the host's write is seen */
}

void guest_printf(const char *fmt, ...)
{
	char buf[VIGIL_UCALL_BUF];
	va_list ap;

	va_start(ap, fmt);
	guest_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	guest_ucall(VIGIL_UCALL_PRINT, 0, 0, buf);
}

void guest_assert_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	char buf[VIGIL_UCALL_BUF], msg[120];
	va_list ap;

	va_start(ap, fmt);
	guest_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	guest_snprintf(buf, sizeof(buf), "%s:%d: %s%s%s", file, line, expr,
		       msg[0] && msg[0] != ' ' ? ": " : "", msg[0] == ' ' ? "" : msg);
	guest_ucall(VIGIL_UCALL_ASSERT, 0, 0, buf);
	guest_halt();
}

void guest_exit(unsigned status)
{
	outl(VIGIL_PORT_EXIT, status);
	guest_halt();
}

void guest_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_puts_serial(const char *s)
{
	for (; *s; s++)
		outb(VIGIL_PORT_SERIAL, (uint8_t)*s);
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}
