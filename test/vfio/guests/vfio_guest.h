/* Host <-> guest contract of the vfio integration tests (no libc). */
#ifndef VIGIL_TEST_VFIO_GUEST_H
#define VIGIL_TEST_VFIO_GUEST_H

enum { SCENARIO_REGIONS = 1, SCENARIO_DMA, SCENARIO_DMA_PROTECTED, SCENARIO_FAIL };

/* SYNC stages (args[0]); args[1] carries an address where noted. */
enum {
	SYNC_SCENARIO = 100,       /* ret: scenario */
	SYNC_FOUND,                /* args[1]: BAR0 address */
	SYNC_REGIONS_DONE,
	SYNC_PROTECT,              /* args[1]: page the host write-protects */
	SYNC_EXPECTED_STATUS,      /* ret: STATUS the guest must see */
};

#endif
