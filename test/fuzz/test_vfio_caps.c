/*
 * The capability rules fuzz_vfio_caps found broken, one behaviour per test,
 * on vfio_irqs_parse/vfio_irqs_validate (the pure steps of the attach).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vfio_int.h"
#include "vfio_msi.h"

static struct vfio_dev dev;
static uint8_t cfg[256];

static void setup(void)
{
	vg_log_set_level(VG_LOG_ERR);
	memset(&dev, 0, sizeof(dev));
	memset(cfg, 0, sizeof(cfg));
	snprintf(dev.name, sizeof(dev.name), "test");
	cfg[0x06] = 0x10;          /* capability list */
	/* BAR4: 16 KiB of memory, as vu-dma --irq=msix has it. */
	dev.bar[4] = (struct vfio_bar){ .dev = &dev, .idx = 4, .size = 16384,
					.region_size = 16384 };
}

static void teardown(void)
{
	vfio_irqs_free(&dev);
}

TestSuite(vfio_caps, .init = setup, .fini = teardown);

static void put_cap(unsigned at, uint8_t id, unsigned next)
{
	cfg[at] = id;
	cfg[at + 1] = (uint8_t)next;
}

static void put_msix(unsigned at, unsigned next, uint16_t vectors)
{
	uint16_t ctrl = (uint16_t)(vectors - 1);
	uint32_t table = 0x1000 | 4, pba = 0x2000 | 4;

	put_cap(at, 0x11, next);
	memcpy(cfg + at + 2, &ctrl, 2);
	memcpy(cfg + at + 4, &table, 4);
	memcpy(cfg + at + 8, &pba, 4);
}

static const struct vfio_cap *cap_at(unsigned off)
{
	for (unsigned i = 0; i < dev.irqs->nr_caps; i++)
		if (dev.irqs->caps[i].off == off)
			return &dev.irqs->caps[i];
	return NULL;
}

/* What the guest reads at @off (the hooks, else the server's bytes). */
static uint8_t guest_rd8(unsigned off)
{
	uint8_t v;

	if (!vfio_irqs_cfg_read(&dev, off, &v, 1)) {
		v = cfg[off];
		vfio_irqs_cfg_patch(&dev, off, &v, 1);
	}
	return v;
}

Test(vfio_caps, msix_table_and_pba_in_their_bar_are_kept)
{
	cfg[0x34] = 0x40;
	put_msix(0x40, 0, 8);
	cr_assert_eq(vfio_irqs_parse(&dev, cfg), 0);
	vfio_irqs_validate(dev.irqs, 0, 8);
	cr_assert(dev.irqs->msix_present);
	cr_assert_eq(dev.irqs->msix_nr, 8);
	cr_assert_eq(guest_rd8(0x34), 0x40);
	cr_assert_eq(guest_rd8(0x40), 0x11);
	cr_assert_eq(guest_rd8(0x41), 0);
}

/* Found by fuzz_vfio_caps: the guest read the emulated MSI-X registers as
 * the inner capability's header and followed its PBA offset byte (0x20) as
 * a next pointer. */
Test(vfio_caps, capability_whose_header_lies_inside_msix_is_unlinked)
{
	uint32_t pba = 0x5000 | 4;      /* BIR 4 at offset 0x5000 */

	dev.bar[4].size = dev.bar[4].region_size = 0x10000;
	cfg[0x34] = 0x40;
	put_msix(0x40, 0x48, 8);
	/* The PBA dword is at 0x48: read as a header, id 0x04, next 0x50. */
	memcpy(cfg + 0x48, &pba, 4);
	put_cap(0x50, 0x01, 0);
	cr_assert_eq(vfio_irqs_parse(&dev, cfg), 0);
	vfio_irqs_validate(dev.irqs, 0, 8);
	cr_assert(dev.irqs->msix_present);
	cr_assert_not(cap_at(0x48)->keep);
	cr_assert(cap_at(0x50)->keep);
	/* The guest walks 0x40 -> 0x50 -> end. */
	cr_assert_eq(guest_rd8(0x34), 0x40);
	cr_assert_eq(guest_rd8(0x41), 0x50);
	cr_assert_eq(guest_rd8(0x50), 0x01);
	cr_assert_eq(guest_rd8(0x51), 0);
}

Test(vfio_caps, msix_inside_msi_is_unlinked_and_its_pages_stay_trapped)
{
	uint16_t ctrl = 0x0180;         /* 64-bit, per-vector masking: 24 bytes */
	uint64_t pieces[3][2];

	cfg[0x34] = 0x40;
	put_cap(0x40, 0x05, 0x50);
	memcpy(cfg + 0x42, &ctrl, 2);
	put_msix(0x50, 0, 8);           /* inside [0x40, 0x58) */
	cr_assert_eq(vfio_irqs_parse(&dev, cfg), 0);
	cr_assert(dev.irqs->msi_present);
	cr_assert_not(dev.irqs->msix_present);
	cr_assert_not(cap_at(0x50)->keep);
	cr_assert(dev.irqs->msix_claimed);
	cr_assert_eq(vfio_msix_mappable(&dev, 4, 0, 16384, pieces), 2, "table, PBA pages cut");
	cr_assert_eq(guest_rd8(0x41), 0);
}

/* Found by fuzz_vfio_caps (ASan): the table and PBA offsets were read
 * before the bounds check, 4 to 8 bytes past the configuration space. */
Test(vfio_caps, msix_capability_past_the_end_of_config_space_is_ignored)
{
	uint8_t *tight = malloc(256);

	cr_assert_not_null(tight);
	cfg[0x34] = 0xfc;
	put_cap(0xfc, 0x11, 0);
	memcpy(tight, cfg, 256);
	cr_assert_eq(vfio_irqs_parse(&dev, tight), 0);
	free(tight);
	cr_assert_not(dev.irqs->msix_present);
	cr_assert_not(cap_at(0xfc)->keep);
	cr_assert_eq(guest_rd8(0x34), 0);
	cr_assert_eq(guest_rd8(0x06) & 0x10, 0, "an empty list is no list");
}
