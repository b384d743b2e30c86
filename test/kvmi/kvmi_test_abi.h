/* Contract between the introspection test guest and the tests. Shared by
 * freestanding guest code and host code: no libc. */
#ifndef VIGIL_KVMI_TEST_ABI_H
#define VIGIL_KVMI_TEST_ABI_H

#include <vigil/kvmi.h>

#define KT_CTL 0x200000ull   /* free RAM below the ELF (which loads at 4 MiB) */

struct kt_ctl {
	unsigned long long ready;     /* vCPU 0 filled the addresses below */
	unsigned long long go;        /* tool: start the scenario */
	unsigned long long stop;      /* tool: end KT_BUSY */
	unsigned long long scenario;
	unsigned long long wpage, rpage, exec_page, bp_target;
	unsigned long long bench_kind, bench_n;  /* KT_BENCH: 0 wrmsr, 1 page write */
	unsigned long long counter[32];
	/* KT_DMA: vCPU 0 drives the vu-dma device (test/vfio/dma_dev.h): one
	 * copy of dma_len bytes from dma_src to dma_dst per increment of
	 * dma_req; after each, dma_status = the device's STATUS and dma_done++. */
	unsigned long long dma_src, dma_dst, dma_len, dma_req, dma_done, dma_status, dma_slot;
};

enum kt_scenario {
	KT_IDLE = 1, KT_MSR_ACTIONS, KT_PAGE_WRITE, KT_PAGE_READ, KT_EXEC, KT_CR4,
	KT_HYPERCALL, KT_INJECT, KT_MULTI, KT_BUSY, KT_BENCH, KT_XSETBV_LIDT, KT_BP_STEP, KT_INT3,
	KT_DMA,
};

#define KT_MSR             0xc0000082u   /* LSTAR: any value is accepted */
#define KT_MSR_REPLACE_ME  0xffffffff81000000ull
#define KT_MSR_REPLACEMENT 0xffffffff82000000ull
#define KT_MSR_SKIP_ME     0xffffffff83000000ull
#define KT_MSR_ALLOW_ME    0xffffffff84000000ull
#define KT_MSR_RETRY_ME    0xffffffff85000000ull
#define KT_MULTI_BASE      0xffffffff90000000ull
#define KT_MULTI_N         20

#define KT_W_SKIP_ME  0x1111ull
#define KT_W_ALLOW_ME 0x2222ull
#define KT_W_RETRY_ME 0x3333ull
#define KT_W_FREE     0x4444ull

#define KT_SECRET 0x5345435245542121ull   /* "!!TERCES" */
#define KT_HIDDEN 0x4e45444449482121ull

#define KT_CR4_BIT (1ull << 2)   /* CR4.TSD: harmless to flip */
#define KT_CR0_WP  (1ull << 16)

#define KT_HC_VALUE  77
#define KT_HC_RBX    0x1234abcdull
#define KT_HC_INJECT 78
#define KT_PF_CR2    0xdead000ull
#define KT_PF_ERR    0x2u
#define KT_HC_STEP   79
#define KT_HC_BENCH_START 1000   /* + vCPU id */
#define KT_HC_BENCH_END   2000   /* + vCPU id */

#endif
