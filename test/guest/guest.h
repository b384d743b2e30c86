/*
 * Runtime for freestanding test guests (the KVM selftests model).
 *
 * A guest defines   void guest_main(unsigned vcpu_id, unsigned nr_vcpus);
 * and every vCPU enters it in 64-bit mode at CPL0 with exception handlers
 * installed. Returning from guest_main reports GUEST_DONE for that vCPU; the
 * VM ends (status 0) when every vCPU is done, or at the first failed assert
 * (status 1), or when any vCPU calls guest_exit(status).
 *
 * Talking to the host is a "ucall": a struct vigil_ucall on the stack whose
 * physical address is written to VIGIL_PORT_UCALL (include/vigil/guest_abi.h).
 * Everything here works at CPL3 too (user code runs with IOPL 3).
 */
#ifndef VIGIL_GUEST_H
#define VIGIL_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vigil/guest_abi.h>

void guest_main(unsigned vcpu_id, unsigned nr_vcpus);

/* ---- ucalls ---- */
uint64_t guest_ucall(uint64_t cmd, uint64_t a0, uint64_t a1, const char *text);
void guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void guest_assert_fail(const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));
__attribute__((noreturn)) void guest_exit(unsigned status);
__attribute__((noreturn)) void guest_halt(void);

#define GUEST_SYNC(stage)   guest_ucall(VIGIL_UCALL_SYNC, (stage), 0, NULL)
#define GUEST_PRINTF(...)   guest_printf(__VA_ARGS__)
#define GUEST_DONE()        do { guest_ucall(VIGIL_UCALL_DONE, 0, 0, NULL); guest_halt(); } while (0)
#define GUEST_ASSERT(c) \
	do { if (!(c)) guest_assert_fail(__FILE__, __LINE__, #c, " "); } while (0)
#define GUEST_ASSERT_MSG(c, ...) \
	do { if (!(c)) guest_assert_fail(__FILE__, __LINE__, #c, __VA_ARGS__); } while (0)
#define GUEST_ASSERT_EQ(a, b) \
	do { uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b); \
	     if (__a != __b) guest_assert_fail(__FILE__, __LINE__, #a " == " #b, \
				"0x%llx != 0x%llx", (unsigned long long)__a, (unsigned long long)__b); \
	} while (0)

int guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void guest_puts_serial(const char *s);

/* ---- exceptions ---- */
struct guest_ex_regs {
	uint64_t rax, rcx, rdx, rbx, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;   /* the CPU's interrupt frame */
};
typedef void (*guest_ex_handler)(struct guest_ex_regs *regs);
/* Install a handler for @vector (0-31). NULL restores the default (assert). */
void guest_set_handler(unsigned vector, guest_ex_handler fn);

/* ---- user mode ---- */
/* Run fn(arg) at CPL3 on @stack_top (16-byte aligned, identity-mapped memory);
 * return its result once it returns. */
uint64_t guest_run_user(uint64_t (*fn)(uint64_t), uint64_t arg, void *stack_top);
unsigned guest_vcpu_id(void);   /* valid at CPL0 on the boot stack */

/* ---- instructions ---- */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port) : "memory"); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port) : "memory"); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause"); }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
