/* The guest of the plugin tests: the plugin chooses the scenario (port 0x500). */
#include "guest.h"

#define PORT_ADD    0x600   /* write operands, read the sum (plugin) */
#define PORT_REGS   0x601   /* the plugin checks and changes rbx */
#define PORT_ASYNC  0x700   /* async-write range */
#define PORT_IOEVT  0x710   /* ioeventfd */
#define PORT_FREE   0x720   /* never reserved */
#define MMIO_DEV    0xd0000000UL

static void adder(void)
{
	uint64_t rbx = 0x1234;

	outl(PORT_ADD, 20);
	outl(PORT_ADD, 22);
	GUEST_ASSERT_EQ(inl(PORT_ADD), 42);
	__asm__ volatile("outb %%al, %w1" : "+b"(rbx) : "Nd"(PORT_REGS), "a"(0) : "memory");
	GUEST_ASSERT_EQ(rbx, 0x5678);
	/* MMIO in a reserved range: read 8 bytes, write 4. */
	GUEST_ASSERT_EQ(*(volatile uint64_t *)MMIO_DEV, 0x1122334455667788ULL);
	*(volatile uint32_t *)(MMIO_DEV + 8) = 0xcafe;
	/* Unreserved: reads zeros, writes dropped. */
	GUEST_ASSERT_EQ(inl(PORT_FREE), 0);
	outl(PORT_FREE, 1);
	GUEST_SYNC(1);
}

static void async_writes(void)
{
	for (unsigned i = 0; i < 10; i++)
		outl(PORT_ASYNC, i);
	GUEST_ASSERT_EQ(inl(PORT_ASYNC), 0);   /* async ranges report writes only */
	GUEST_SYNC(2);
}

static void ioevents(void)
{
	outl(PORT_IOEVT, 7);    /* no match */
	outl(PORT_IOEVT, 42);   /* match */
	GUEST_SYNC(3);
}

static void dirty(void)
{
	volatile uint8_t *p = (volatile uint8_t *)0x800000UL;   /* the plugin's 2nd region */

	GUEST_ASSERT_EQ(p[0], 0xab);
	p[0x3000] = 1;
	p[0x5000] = 1;
	GUEST_SYNC(4);
}

/* Hyper-V (the plugin set Hyper-V CPUID leaves and enabled SynIC). */
#define HV_MSR_GUEST_OS_ID  0x40000000
#define HV_MSR_HYPERCALL    0x40000001
#define HV_MSR_SCONTROL     0x40000080
#define HV_MSR_SIEFP        0x40000082
#define HV_MSR_SIMP         0x40000083
#define HVCALL_POST_MESSAGE 0x005c
#define HVCALL_SIGNAL_EVENT 0x005d
#define HV_FAST             (1ULL << 16)

/* Hypercall page, SIEFP page, SIMP page, post-message input. */
static uint8_t hv_pages[4][4096] __attribute__((aligned(4096)));

static uint64_t hv_call(uint64_t control, uint64_t in, uint64_t out)
{
	register uint64_t r8 __asm__("r8") = out;
	uint64_t status;

	/* Through the hypercall page KVM wrote (vmcall/vmmcall; ret). */
	__asm__ volatile("call *%[page]"
			 : "=&a"(status), "+c"(control), "+d"(in), "+r"(r8)
			 : [page] "r"(hv_pages[0])
			 : "memory", "cc");
	return status;
}

static void hyperv(void)
{
	uint32_t a, b, c, d;

	cpuid(0x40000001, 0, &a, &b, &c, &d);
	GUEST_ASSERT_EQ(a, 0x31237648);   /* "Hv#1": Hyper-V interface */
	guest_ucall(VIGIL_UCALL_SYNC, 6, (uint64_t)(uintptr_t)hv_pages, NULL);
	wrmsr(HV_MSR_SCONTROL, 1);
	wrmsr(HV_MSR_SIEFP, (uint64_t)(uintptr_t)hv_pages[1] | 1);
	wrmsr(HV_MSR_SIMP, (uint64_t)(uintptr_t)hv_pages[2] | 1);
	GUEST_SYNC(7);
	wrmsr(HV_MSR_GUEST_OS_ID, 0x8100000000000001ULL);
	wrmsr(HV_MSR_HYPERCALL, (uint64_t)(uintptr_t)hv_pages[0] | 1);
	GUEST_ASSERT(hv_pages[0][0] != 0);   /* KVM filled the page */
	GUEST_ASSERT_EQ(hv_call(HVCALL_POST_MESSAGE, (uint64_t)(uintptr_t)hv_pages[3], 0),
			0x1122334455667788ULL);
	/* Connection 5 has no eventfd in KVM: it goes to userspace; the plugin
	 * leaves the result alone, which makes it 0. */
	GUEST_ASSERT_EQ(hv_call(HVCALL_SIGNAL_EVENT | HV_FAST, 5, 0), 0);
	GUEST_SYNC(8);
}

static void spin(void)
{
	/* Loop at CPL0 with exits, so pauses find the vCPU running. */
	for (;;)
		outl(PORT_FREE, 0);
}

void guest_main(unsigned id, unsigned nr)
{
	unsigned sc = inl(0x500);

	(void)nr;
	if (id != 0)
		return;
	switch (sc) {
	case 1: adder(); break;
	case 2: async_writes(); break;
	case 3: ioevents(); break;
	case 4: dirty(); break;
	case 5: spin(); break;
	case 6: hyperv(); break;
	default: break;
	}
}
