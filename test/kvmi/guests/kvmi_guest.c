/*
 * Test guest for the introspection suite. vCPU 0 publishes the addresses of
 * its test pages in a control block at KT_CTL, every vCPU waits for the tool
 * to set go, then runs the scenario the tool chose and checks the outcome
 * itself (GUEST_ASSERT ends the VM with status 1).
 */
#include "guest.h"
#include "dma_dev.h"
#include "kvmi_test_abi.h"

static uint8_t wpage[4096] __attribute__((aligned(4096)));
static uint8_t rpage[4096] __attribute__((aligned(4096)));
static uint8_t dma_src[8192] __attribute__((aligned(4096)));
static uint8_t dma_dst[8192] __attribute__((aligned(4096)));

uint64_t exec_target(void);
__asm__(".pushsection .text.kvmi_exec, \"ax\"\n"
	".balign 4096\n"
	".globl exec_target\n"
	"exec_target:\n"
	"  mov $42, %eax\n"
	"  ret\n"
	".balign 4096\n"
	".popsection\n");

#define CTL ((volatile struct kt_ctl *)KT_CTL)

static void wait_go(void)
{
	while (!CTL->go)
		cpu_relax();
}

static void idle(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void run_msr(void)
{
	uint64_t before = rdmsr(KT_MSR);

	wrmsr(KT_MSR, KT_MSR_REPLACE_ME);       /* tool: ALLOW with KT_MSR_REPLACEMENT */
	GUEST_ASSERT_EQ(rdmsr(KT_MSR), KT_MSR_REPLACEMENT);
	before = rdmsr(KT_MSR);
	wrmsr(KT_MSR, KT_MSR_SKIP_ME);          /* tool: SKIP */
	GUEST_ASSERT_EQ(rdmsr(KT_MSR), before);
	wrmsr(KT_MSR, KT_MSR_ALLOW_ME);         /* tool: ALLOW */
	GUEST_ASSERT_EQ(rdmsr(KT_MSR), KT_MSR_ALLOW_ME);
	wrmsr(KT_MSR, KT_MSR_RETRY_ME);         /* tool: RETRY once, then ALLOW */
	GUEST_ASSERT_EQ(rdmsr(KT_MSR), KT_MSR_RETRY_ME);
}

static void run_page_write(void)
{
	volatile uint64_t *p = (volatile uint64_t *)wpage;

	*p = KT_W_SKIP_ME;                      /* tool: SKIP, dropped */
	GUEST_ASSERT_EQ(*p, 0);
	*p = KT_W_ALLOW_ME;                     /* tool: ALLOW, lands */
	GUEST_ASSERT_EQ(*p, KT_W_ALLOW_ME);
	*p = KT_W_RETRY_ME;                     /* tool: lifts protection, RETRY */
	GUEST_ASSERT_EQ(*p, KT_W_RETRY_ME);
	*p = KT_W_FREE;                         /* no event any more */
	GUEST_ASSERT_EQ(*p, KT_W_FREE);
}

static void run_page_read(void)
{
	volatile uint64_t *p = (volatile uint64_t *)rpage;

	GUEST_ASSERT_EQ(*p, KT_HIDDEN);         /* tool: SKIP with ctx KT_HIDDEN */
	GUEST_ASSERT_EQ(*p, KT_SECRET);         /* tool: ALLOW: the real bytes */
}

static void run_exec(void)
{
	GUEST_ASSERT_EQ(exec_target(), 42);     /* tool: ALLOW (runs once) */
	GUEST_ASSERT_EQ(exec_target(), 42);     /* tool: lifts, RETRY */
}

static void run_cr4(void)
{
	uint64_t cr4 = read_cr4();

	write_cr4(cr4 | KT_CR4_BIT);            /* tool: SKIP */
	GUEST_ASSERT_EQ(read_cr4(), cr4);
	write_cr4(cr4 | KT_CR4_BIT);            /* tool: ALLOW */
	GUEST_ASSERT_EQ(read_cr4(), cr4 | KT_CR4_BIT);
	write_cr4(cr4);                         /* tool: ALLOW with value cr4|BIT */
	GUEST_ASSERT_EQ(read_cr4(), cr4 | KT_CR4_BIT);
	write_cr0(read_cr0() & ~KT_CR0_WP);     /* tool: SKIP */
	GUEST_ASSERT(read_cr0() & KT_CR0_WP);
	write_cr3(read_cr3());                  /* tool: ALLOW */
}

static void run_hypercall(void)
{
	uint64_t rbx = 0;

	/* The tool sets RBX with SET_REGISTERS while the vCPU waits. */
	__asm__ volatile("outl %%eax, %%dx" : "+b"(rbx)
			 : "a"(KT_HC_VALUE), "d"(VIGIL_KVMI_HYPERCALL_PORT) : "memory");
	GUEST_ASSERT_EQ(rbx, KT_HC_RBX);
}

static volatile uint64_t pf_cr2;

static void on_pf(struct guest_ex_regs *regs)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	pf_cr2 = cr2;
	GUEST_ASSERT_EQ(regs->error_code, KT_PF_ERR);
}

static void run_inject(void)
{
	guest_set_handler(14, on_pf);
	/* The tool injects #PF while this hypercall waits. */
	outl(VIGIL_KVMI_HYPERCALL_PORT, KT_HC_INJECT);
	GUEST_ASSERT_EQ(pf_cr2, KT_PF_CR2);
}

static void run_multi(unsigned id)
{
	unsigned i;

	for (i = 0; i < KT_MULTI_N; i++)
		wrmsr(KT_MSR, KT_MULTI_BASE + id * 1000 + i);
	CTL->counter[id] = KT_MULTI_N;
}

static void run_busy(unsigned id)
{
	/* Keep running (with exits) until the tool says stop: for detach and
	 * pause tests, where the guest must go on. */
	while (!CTL->stop) {
		wrmsr(KT_MSR, KT_MULTI_BASE + id);
		CTL->counter[id]++;
	}
}

static inline void xsetbv0(uint64_t v)
{
	__asm__ volatile("xsetbv" :: "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(0) : "memory");
}

/* The tool checks XCR0 (GET_XCR): on kvm_pvm the guest cannot, since XGETBV
 * at CPL0 fails emulation and at CPL3 shows the host's XCR0. */
static void run_xsetbv_lidt(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idt;
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	GUEST_ASSERT_MSG(c & (1u << 26), "XSAVE needed");
	write_cr4(read_cr4() | (1ull << 18));   /* OSXSAVE */
	xsetbv0(3);                             /* tool: SKIP */
	xsetbv0(3);                             /* tool: ALLOW */
	xsetbv0(1);                             /* tool: ALLOW */
	__asm__ volatile("sidt %0" : "=m"(idt));
	__asm__ volatile("lidt %0" :: "m"(idt));   /* tool: SKIP */
	__asm__ volatile("lidt %0" :: "m"(idt));   /* tool: ALLOW */
}

__attribute__((noinline)) uint64_t bp_target(uint64_t v);
__attribute__((noinline)) uint64_t bp_target(uint64_t v)
{
	__asm__ volatile("" ::: "memory");
	return v * 3;
}

static void run_bp_step(void)
{
	GUEST_ASSERT_EQ(bp_target(5), 15);      /* BREAKPOINT */
	GUEST_ASSERT_EQ(bp_target(7), 21);      /* BREAKPOINT, then the tool removes it */
	outl(VIGIL_KVMI_HYPERCALL_PORT, KT_HC_STEP);   /* tool turns single-step on */
	GUEST_ASSERT_EQ(bp_target(2), 6);       /* stepped */
}

static volatile unsigned bp_seen;

static void on_bp(struct guest_ex_regs *regs)
{
	(void)regs;   /* #BP is a trap: RIP is already past the int3 */
	bp_seen++;
}

static void run_int3(void)
{
	guest_set_handler(3, on_bp);
	__asm__ volatile("int3");   /* tool: ALLOW, the guest's handler runs */
	GUEST_ASSERT_EQ(bp_seen, 1);
	__asm__ volatile("int3");   /* tool: SKIP, the guest never sees it */
	GUEST_ASSERT_EQ(bp_seen, 1);
}

static void run_bench(unsigned id)
{
	volatile uint64_t *p = (volatile uint64_t *)wpage + id;
	uint64_t i, n = CTL->bench_n;

	(void)i;

	outl(VIGIL_KVMI_HYPERCALL_PORT, KT_HC_BENCH_START + id);
	if (CTL->bench_kind == 0)
		for (i = 0; i < n; i++)
			wrmsr(KT_MSR, KT_MULTI_BASE + i);
	else if (CTL->bench_kind == 1)
		for (i = 0; i < n; i++)
			*p = i;
	else   /* CPL0 instructions: 2 per iteration */
		__asm__ volatile("1: dec %0; jnz 1b" : "+r"(n) :: "cc");
	outl(VIGIL_KVMI_HYPERCALL_PORT, KT_HC_BENCH_END + id);
}

static uint32_t pci_read32(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | (slot << 11) | (off & 0xfc));
	return inl(0xcfc);
}

/* The vu-dma device: copies on the tool's request (see struct kt_ctl). */
static void run_dma(void)
{
	volatile uint8_t *bar0 = 0;
	unsigned slot;

	for (slot = 1; slot < 32 && !bar0; slot++)
		if (pci_read32(slot, 0) == (DMA_DEV_VENDOR | ((uint32_t)DMA_DEV_DEVICE << 16)))
			bar0 = (volatile uint8_t *)(uintptr_t)(pci_read32(slot, 0x10) & ~0xfu);
	GUEST_ASSERT(bar0);
	CTL->dma_slot = slot - 1;
	while (!CTL->stop) {
		if (CTL->dma_done == CTL->dma_req) {
			cpu_relax();
			continue;
		}
		*(volatile uint64_t *)(bar0 + DMA_DEV_REG_SRC) = CTL->dma_src;
		*(volatile uint64_t *)(bar0 + DMA_DEV_REG_DST) = CTL->dma_dst;
		*(volatile uint32_t *)(bar0 + DMA_DEV_REG_LEN) = (uint32_t)CTL->dma_len;
		*(volatile uint32_t *)(bar0 + DMA_DEV_REG_DOORBELL) = 1;   /* copies, then returns */
		CTL->dma_status = *(volatile uint32_t *)(bar0 + DMA_DEV_REG_STATUS);
		CTL->dma_done++;
	}
}

void guest_main(unsigned id, unsigned nr)
{
	(void)nr;
	if (id == 0) {
		CTL->wpage = (uint64_t)(uintptr_t)wpage;
		CTL->rpage = (uint64_t)(uintptr_t)rpage;
		CTL->exec_page = (uint64_t)(uintptr_t)exec_target;
		CTL->bp_target = (uint64_t)(uintptr_t)bp_target;
		*(volatile uint64_t *)rpage = KT_SECRET;
		for (unsigned i = 0; i < sizeof(dma_src); i++)
			dma_src[i] = (uint8_t)(i * 7 + 3);
		CTL->dma_src = (uint64_t)(uintptr_t)dma_src;
		CTL->dma_dst = (uint64_t)(uintptr_t)dma_dst;
		CTL->ready = 1;
	}
	wait_go();
	switch (CTL->scenario) {
	case KT_IDLE: idle(); break;
	case KT_MSR_ACTIONS: if (id == 0) run_msr(); break;
	case KT_PAGE_WRITE: if (id == 0) run_page_write(); break;
	case KT_PAGE_READ: if (id == 0) run_page_read(); break;
	case KT_EXEC: if (id == 0) run_exec(); break;
	case KT_CR4: if (id == 0) run_cr4(); break;
	case KT_HYPERCALL: if (id == 0) run_hypercall(); break;
	case KT_INJECT: if (id == 0) run_inject(); break;
	case KT_MULTI: run_multi(id); break;
	case KT_BUSY: run_busy(id); break;
	case KT_BENCH: run_bench(id); break;
	case KT_XSETBV_LIDT: if (id == 0) run_xsetbv_lidt(); break;
	case KT_BP_STEP: if (id == 0) run_bp_step(); break;
	case KT_INT3: if (id == 0) run_int3(); break;
	case KT_DMA: if (id == 0) run_dma(); break;
	default: GUEST_ASSERT(0);
	}
}
