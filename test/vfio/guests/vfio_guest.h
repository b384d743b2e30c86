/* Host <-> guest contract of the vfio integration tests (no libc). */
#ifndef VIGIL_TEST_VFIO_GUEST_H
#define VIGIL_TEST_VFIO_GUEST_H

enum { SCENARIO_REGIONS = 1, SCENARIO_DMA, SCENARIO_DMA_PROTECTED, SCENARIO_FAIL, SCENARIO_BENCH };
/* msi_guest.c: MSI-X, MSI, and a device whose MSI/MSI-X the guest must not see. */
enum { SCENARIO_MSIX = 10, SCENARIO_MSI, SCENARIO_NO_MSI };

/* Benchmark: iterations per phase, phases marked by SYNC_BENCH(phase). */
#define BENCH_ITERS 2000
#define BENCH_COPIES 200
enum { BENCH_NOP = 1, BENCH_BAR_TRAPPED, BENCH_BAR_MAPPED, BENCH_DMA_COPY, BENCH_END };

/* SYNC stages (args[0]); args[1] carries an address where noted. */
enum {
	SYNC_SCENARIO = 100,       /* ret: scenario */
	SYNC_FOUND,                /* args[1]: BAR0 address */
	SYNC_REGIONS_DONE,
	SYNC_PROTECT,              /* args[1]: page the host write-protects */
	SYNC_EXPECTED_STATUS,      /* ret: STATUS the guest must see */
	SYNC_BENCH,                /* args[1]: phase starting */
};

#endif
