/*
 * pci_probe's drives for QEMU's own device models, served over vfio-user by
 * QEMU's x-remote machine (tools/interop/qemu-server.sh). Each drive checks
 * what the device's documented registers must answer and prints one
 * "drive 00:SS.0 NAME: ...: ok" line; a wrong answer is a guest assertion.
 * Interrupts: INTx, and MSI for edu. MSI-X of QEMU's devices does not reach
 * the guest (docs/vfio-user.md, "Tested against"): nvme is polled or INTx.
 */
#include "pci_probe.h"

#define ID(vendor, device) ((uint32_t)(vendor) | ((uint32_t)(device) << 16))

static uint8_t dma_buf[2][4096] __attribute__((aligned(4096)));
static uint8_t nvme_sq[4096] __attribute__((aligned(4096)));
static uint8_t nvme_cq[4096] __attribute__((aligned(4096)));

static void enable(unsigned slot, uint32_t bits)
{
	uint32_t cmd = cfg_read32(slot, PCI_CMD_STATUS) & 0xffff;

	cfg_write32(slot, PCI_CMD_STATUS, cmd | bits);
}

static uint64_t mem_bar(struct bar bars[6], unsigned i)
{
	GUEST_ASSERT_MSG(bars[i].present && !bars[i].io, "BAR%u is not a memory BAR", i);
	return bars[i].base;
}

static uint16_t io_bar(struct bar bars[6], unsigned i)
{
	GUEST_ASSERT_MSG(bars[i].present && bars[i].io, "BAR%u is not an I/O BAR", i);
	return (uint16_t)bars[i].base;
}

/* Poll @reg until (value & mask) == want, at most @n reads. */
static bool poll32(volatile uint32_t *reg, uint32_t mask, uint32_t want, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if ((*reg & mask) == want)
			return true;
	return false;
}

/* edu's MSI (64-bit address, one vector): the same interrupts as messages
 * to the LAPIC, through vigild's emulated capability. */
static void edu_msi(unsigned slot, uint64_t b)
{
	unsigned cap = pci_find_cap(slot, 0x05, 0), n = irq_count;
	uint32_t ctrl;

	GUEST_ASSERT(cap);
	cfg_write32(slot, cap + 4, 0xfee00000u);   /* APIC 0 */
	cfg_write32(slot, cap + 8, 0);
	cfg_write32(slot, cap + 12, PROBE_IRQ_VECTOR);
	ctrl = cfg_read32(slot, cap);
	cfg_write32(slot, cap, ctrl | (1u << 16));   /* MSI enable */
	GUEST_ASSERT(cfg_read32(slot, cap) & (1u << 16));
	for (unsigned i = 1; i <= 3; i++) {
		*mmio32(b + 0x60) = 0x10;
		GUEST_ASSERT_MSG(wait_irq(n + i, 2000000), "no MSI %u", i);
		*mmio32(b + 0x64) = 0x10;
	}
	cfg_write32(slot, cap, ctrl & ~(1u << 16));
	GUEST_PRINTF("drive 00:%02x.0 edu: 3 interrupts by MSI: ok\n", slot);
}

/* edu (docs/specs/edu.txt): ID, liveness, factorial, INTx, DMA both ways. */
static void drive_edu(unsigned slot, struct bar bars[6])
{
	uint64_t b = mem_bar(bars, 0);
	uint32_t id = *mmio32(b + 0x00);
	unsigned gsi;

	GUEST_ASSERT_EQ(id & 0xff, 0xed);
	*mmio32(b + 0x04) = 0x12345678;
	GUEST_ASSERT_EQ(*mmio32(b + 0x04), ~0x12345678u);
	*mmio32(b + 0x08) = 10;
	GUEST_ASSERT(poll32(mmio32(b + 0x20), 1, 0, 10000));
	GUEST_ASSERT_EQ(*mmio32(b + 0x08), 3628800);
	/* INTx: the interrupt raise register; acknowledge lowers the line. */
	enable(slot, PCI_CMD_MEM | PCI_CMD_MASTER);
	gsi = intx_setup(slot);
	*mmio32(b + 0x60) = 0x1;
	GUEST_ASSERT_MSG(wait_irq(1, 2000000), "no INTx on GSI %u", gsi);
	GUEST_ASSERT_EQ(*mmio32(b + 0x24), 0x1);
	*mmio32(b + 0x64) = 0x1;
	*mmio32(b + 0x60) = 0x4;
	GUEST_ASSERT_MSG(wait_irq(2, 2000000), "no second INTx on GSI %u", gsi);
	*mmio32(b + 0x64) = 0x4;
	GUEST_ASSERT_EQ(*mmio32(b + 0x24), 0);
	/* DMA: guest RAM -> the device's buffer at 0x40000 -> guest RAM. */
	for (unsigned i = 0; i < 256; i++)
		dma_buf[0][i] = (uint8_t)(i * 7 + 1);
	memset(dma_buf[1], 0, 256);
	*mmio64(b + 0x80) = (uint64_t)dma_buf[0];
	*mmio64(b + 0x88) = 0x40000;
	*mmio64(b + 0x90) = 256;
	*mmio64(b + 0x98) = 1;
	GUEST_ASSERT_MSG(poll32(mmio32(b + 0x98), 1, 0, 100000), "DMA to the device never ended");
	*mmio64(b + 0x80) = 0x40000;
	*mmio64(b + 0x88) = (uint64_t)dma_buf[1];
	*mmio64(b + 0x90) = 256;
	*mmio64(b + 0x98) = 1 | 2 | 4;   /* to RAM, interrupt 0x100 when done */
	GUEST_ASSERT_MSG(wait_irq(3, 4000000), "no DMA completion interrupt");
	GUEST_ASSERT_EQ(*mmio32(b + 0x24), 0x100);
	*mmio32(b + 0x64) = 0x100;
	GUEST_ASSERT(!memcmp(dma_buf[0], dma_buf[1], 256));
	GUEST_PRINTF("drive 00:%02x.0 edu: id 0x%x, liveness, 10! = 3628800, INTx on GSI %u, "
		     "DMA to and from RAM: ok\n", slot, id, gsi);
	edu_msi(slot, b);
}

/* pci-testdev (docs/specs/pci-testdev.txt): pick a test by writing its
 * number at offset 0, read its header (offset at 4, count at 12, name at
 * 16), write the test's data byte at its offset and see the count. */
static uint8_t testdev_rd(bool io, uint64_t base, unsigned off)
{
	return io ? inb((uint16_t)(base + off)) : *mmio8(base + off);
}

static void testdev_one(bool io, uint64_t base, const char *name)
{
	uint32_t off = 0, count = 0;
	char got[24];

	if (io)
		outb((uint16_t)base, 0);
	else
		*mmio8(base) = 0;
	for (unsigned i = 0; i < sizeof(got) - 1; i++)
		got[i] = (char)testdev_rd(io, base, 16 + i);
	got[sizeof(got) - 1] = 0;
	GUEST_ASSERT_MSG(!memcmp(got, name, strlen(name) + 1), "test name \"%s\"", got);
	for (unsigned i = 0; i < 4; i++)
		off |= (uint32_t)testdev_rd(io, base, 4 + i) << (8 * i);
	GUEST_ASSERT(off > 12 && off < 4096);
	for (unsigned n = 0; n < 3; n++) {
		if (io)
			outb((uint16_t)(base + off), 0xfa);
		else
			*mmio8(base + off) = 0xfa;
	}
	for (unsigned i = 0; i < 4; i++)
		count |= (uint32_t)testdev_rd(io, base, 12 + i) << (8 * i);
	GUEST_ASSERT_EQ(count, 3);
}

/* ... then both BARs moved by the guest (vigild passes the new addresses on
 * to the server, which decodes by its own BAR registers) and back. */
static void drive_testdev(unsigned slot, struct bar bars[6])
{
	uint64_t mem = mem_bar(bars, 0), io = io_bar(bars, 1);
	uint32_t to_mem = 0xd0000000u, to_io = 0xc000u + 0x100u * slot;

	testdev_one(false, mem, "mmio-no-eventfd");
	testdev_one(true, io, "portio-no-eventfd");
	bar_move(slot, 0, &bars[0], to_mem);
	bar_move(slot, 1, &bars[1], to_io);
	testdev_one(false, to_mem, "mmio-no-eventfd");
	testdev_one(true, to_io, "portio-no-eventfd");
	GUEST_ASSERT_EQ(*mmio8(mem + 16), 0xff);   /* nothing decodes there now */
	GUEST_ASSERT_EQ(inb((uint16_t)(io + 16)), 0xff);
	bar_move(slot, 0, &bars[0], (uint32_t)mem);
	bar_move(slot, 1, &bars[1], (uint32_t)io);
	testdev_one(false, mem, "mmio-no-eventfd");
	GUEST_PRINTF("drive 00:%02x.0 pci-testdev: mmio and portio tests counted, "
		     "BARs moved and back: ok\n", slot);
}

/* e1000's level-triggered INTx: a cause set by software (ICS) and enabled
 * in IMS asserts the line until ICR is read; each assertion is one edge. */
static void e1000_intx(unsigned slot, uint64_t b)
{
	unsigned n = irq_count;

	intx_setup(slot);
	(void)*mmio32(b + 0xc0);              /* ICR: clear what is pending */
	*mmio32(b + 0xd0) = 1u << 4;          /* IMS: RXDMT0 */
	for (unsigned i = 1; i <= 2; i++) {
		*mmio32(b + 0xc8) = 1u << 4;  /* ICS */
		GUEST_ASSERT_MSG(wait_irq(n + i, 2000000), "no INTx %u", i);
		GUEST_ASSERT(*mmio32(b + 0xc0) & (1u << 4));
	}
	*mmio32(b + 0xd8) = ~0u;              /* IMC: all off again */
}

/* e1000/e1000e: STATUS and the receive address QEMU set from mac=; for
 * e1000e the same registers through the I/O BAR's IOADDR/IODATA window
 * (QEMU's e1000 has an I/O BAR that reads 0). */
static void drive_e1000(unsigned slot, struct bar bars[6], const char *name, unsigned iobar)
{
	uint64_t b = mem_bar(bars, 0);
	uint16_t io = io_bar(bars, iobar);
	uint32_t status = *mmio32(b + 0x8), ral = *mmio32(b + 0x5400), rah = *mmio32(b + 0x5404);
	bool by_io = iobar == 2;

	GUEST_ASSERT_EQ(rah >> 31, 1);   /* address valid */
	GUEST_ASSERT(status & 2);        /* link up */
	if (by_io) {
		outl(io, 0x5400);
		GUEST_ASSERT_EQ(inl((uint16_t)(io + 4)), ral);
		outl(io, 0x8);
		GUEST_ASSERT_EQ(inl((uint16_t)(io + 4)), status);
	} else {
		GUEST_ASSERT_EQ(inl(io), 0);
	}
	e1000_intx(slot, b);
	GUEST_PRINTF("drive 00:%02x.0 %s: status 0x%x mac %02x:%02x:%02x:%02x:%02x:%02x%s, "
		     "INTx by ICS twice: ok\n",
		     slot, name, status, ral & 0xff, (ral >> 8) & 0xff, (ral >> 16) & 0xff,
		     ral >> 24, rah & 0xff, (rah >> 8) & 0xff,
		     by_io ? ", by memory and I/O BAR" : "");
}

/* lsi53c895a: SCRATCHA by memory and by I/O, a word of script RAM. */
static void drive_lsi(unsigned slot, struct bar bars[6])
{
	uint16_t io = io_bar(bars, 0);
	uint64_t regs = mem_bar(bars, 1), ram = mem_bar(bars, 2);

	*mmio32(regs + 0x34) = 0xa5c3e1f0;
	GUEST_ASSERT_EQ(inl((uint16_t)(io + 0x34)), 0xa5c3e1f0);
	outl((uint16_t)(io + 0x34), 0x01020304);
	GUEST_ASSERT_EQ(*mmio32(regs + 0x34), 0x01020304);
	*mmio32(ram + 0x100) = 0xfeedf00d;
	GUEST_ASSERT_EQ(*mmio32(ram + 0x100), 0xfeedf00d);
	GUEST_PRINTF("drive 00:%02x.0 lsi53c895a: SCRATCHA by memory and I/O, script RAM: ok\n",
		     slot);
}

/* nvme: enable the controller with an admin queue pair in guest RAM. */
static void nvme_enable(uint64_t b)
{
	*mmio32(b + 0x14) = 0;   /* CC.EN = 0 */
	GUEST_ASSERT(poll32(mmio32(b + 0x1c), 1, 0, 10000));
	memset(nvme_sq, 0, sizeof(nvme_sq));
	memset(nvme_cq, 0, sizeof(nvme_cq));
	*mmio32(b + 0x24) = (7u << 16) | 7u;   /* AQA: 8-entry queues */
	*mmio64(b + 0x28) = (uint64_t)nvme_sq;
	*mmio64(b + 0x30) = (uint64_t)nvme_cq;
	*mmio32(b + 0x14) = 1u | (6u << 16) | (4u << 20);   /* EN, 64-byte SQE, 16-byte CQE */
	GUEST_ASSERT_MSG(poll32(mmio32(b + 0x1c), 3, 1, 100000), "CSTS 0x%x",
			 *mmio32(b + 0x1c));
}

/* IDENTIFY CONTROLLER as admin command @n (0-6: SQ/CQ slot n): the device
 * DMAs the command in, the data and the completion out; the completion is
 * polled. */
static void nvme_identify(uint64_t b, unsigned n, uint8_t *id)
{
	uint32_t *cmd = (uint32_t *)(nvme_sq + 64 * n);
	volatile uint32_t *cqe = (volatile uint32_t *)(nvme_cq + 16 * n);

	memset(cmd, 0, 64);
	cmd[0] = 0x06 | ((0x1230u + n) << 16);   /* IDENTIFY, command id */
	*(uint64_t *)&cmd[6] = (uint64_t)id;
	cmd[10] = 1;                             /* CNS 1: the controller */
	*mmio32(b + 0x1000) = n + 1;             /* SQ 0 tail doorbell */
	for (unsigned i = 0; i < 1000000 && !(cqe[3] & (1u << 16)); i++)
		cpu_relax();
	GUEST_ASSERT_MSG(cqe[3] & (1u << 16), "no completion (CSTS 0x%x)", *mmio32(b + 0x1c));
	GUEST_ASSERT_EQ(cqe[3] & 0xffff, 0x1230u + n);
	GUEST_ASSERT_EQ(cqe[3] >> 17, 0);        /* status: success */
	*mmio32(b + 0x1004) = n + 1;             /* CQ 0 head doorbell */
}

/* Point MSI-X table entry 0 at PROBE_IRQ_VECTOR on APIC 0 and enable MSI-X. */
static void msix_on(unsigned slot, struct bar bars[6])
{
	unsigned cap = pci_find_cap(slot, 0x11, 0);
	uint32_t tbl;
	uint64_t t;

	GUEST_ASSERT_MSG(cap, "no MSI-X capability");
	tbl = cfg_read32(slot, cap + 4);
	t = mem_bar(bars, tbl & 7) + (tbl & ~7u);
	*mmio32(t + 0) = 0xfee00000u;
	*mmio32(t + 4) = 0;
	*mmio32(t + 8) = PROBE_IRQ_VECTOR;
	*mmio32(t + 12) = 0;                     /* vector unmasked */
	cfg_write32(slot, cap, (cfg_read32(slot, cap) | (1u << 31)) & ~(1u << 30));
}

static void drive_nvme(unsigned slot, struct bar bars[6])
{
	uint64_t b = mem_bar(bars, 0);
	uint32_t vs = *mmio32(b + 0x8), mqes = *mmio32(b + 0x0) & 0xffff;
	uint8_t *id = dma_buf[0];
	char sn[21], mn[41];
	unsigned n;

	GUEST_ASSERT_EQ(vs, 0x00010400);   /* NVMe 1.4 */
	enable(slot, PCI_CMD_MEM | PCI_CMD_MASTER);
	memset(id, 0, 4096);
	nvme_enable(b);
	nvme_identify(b, 0, id);
	GUEST_ASSERT_EQ(id[0] | (id[1] << 8), 0x1b36);   /* PCI vendor in the data */
	memcpy(sn, id + 4, 20);
	sn[20] = 0;
	memcpy(mn, id + 24, 40);
	mn[40] = 0;
	for (int i = 19; i >= 0 && sn[i] == ' '; i--)
		sn[i] = 0;
	for (int i = 39; i >= 0 && mn[i] == ' '; i--)
		mn[i] = 0;
	/* The same with the completion interrupt by INTx. */
	intx_setup(slot);
	n = irq_count;
	nvme_identify(b, 1, dma_buf[1]);
	GUEST_ASSERT_MSG(wait_irq(n + 1, 2000000), "no INTx for the completion");
	/* And by MSI-X. QEMU's nvme takes the vector when the queue is created:
	 * MSI-X first, then the controller again. */
	msix_on(slot, bars);
	nvme_enable(b);
	n = irq_count;
	nvme_identify(b, 0, dma_buf[1]);
	GUEST_ASSERT_MSG(wait_irq(n + 1, 2000000), "no MSI-X interrupt for the completion");
	GUEST_PRINTF("drive 00:%02x.0 nvme: version 0x%x, MQES %u, IDENTIFY serial \"%s\" "
		     "model \"%s\", completion by INTx and by MSI-X: ok\n", slot, vs, mqes, sn, mn);
}

/* virtio (modern interface through the vendor capabilities): feature
 * VERSION_1, the status handshake, queue count, device configuration. */
static uint64_t virtio_cfg(unsigned slot, struct bar bars[6], unsigned type)
{
	for (unsigned c = pci_find_cap(slot, 0x09, 0); c; c = pci_find_cap(slot, 0x09, c)) {
		uint32_t h = cfg_read32(slot, c);

		if (((h >> 24) & 0xff) == type)
			return mem_bar(bars, cfg_read32(slot, c + 4) & 0xff) + cfg_read32(slot, c + 8);
	}
	GUEST_ASSERT_MSG(0, "no virtio capability of type %u", type);
	return 0;
}

static void drive_virtio(unsigned slot, struct bar bars[6], bool net)
{
	uint64_t common = virtio_cfg(slot, bars, 1), dev = virtio_cfg(slot, bars, 4);
	uint32_t hi, nq;

	*mmio8(common + 0x14) = 0;             /* device_status: reset */
	GUEST_ASSERT_EQ(*mmio8(common + 0x14), 0);
	*mmio8(common + 0x14) = 1 | 2;         /* ACKNOWLEDGE | DRIVER */
	GUEST_ASSERT_EQ(*mmio8(common + 0x14), 3);
	*mmio32(common + 0x00) = 1;            /* device_feature_select: bits 32-63 */
	hi = *mmio32(common + 0x04);
	GUEST_ASSERT_EQ(hi & 1, 1);            /* VIRTIO_F_VERSION_1 */
	nq = *mmio16(common + 0x12);
	GUEST_ASSERT(nq >= 1);
	if (net) {
		volatile uint8_t *m = mmio8(dev);

		/* A transitional device: the legacy header in I/O BAR0 has the
		 * same MAC after 20 bytes (MSI-X off). */
		if (bars[0].present && bars[0].io)
			for (unsigned i = 0; i < 6; i++)
				GUEST_ASSERT_EQ(inb((uint16_t)(bars[0].base + 20 + i)), m[i]);
		GUEST_PRINTF("drive 00:%02x.0 virtio-net: VERSION_1, %u queues, "
			     "mac %02x:%02x:%02x:%02x:%02x:%02x%s: ok\n",
			     slot, nq, m[0], m[1], m[2], m[3], m[4], m[5],
			     bars[0].io ? " (legacy I/O BAR too)" : "");
	} else {
		uint64_t cap = *mmio32(dev) | ((uint64_t)*mmio32(dev + 4) << 32);

		GUEST_PRINTF("drive 00:%02x.0 virtio-blk: VERSION_1, %u queues, "
			     "capacity %llu sectors: ok\n", slot, nq, (unsigned long long)cap);
	}
	*mmio8(common + 0x14) = 0;
}

bool drive_qemu_device(unsigned slot, uint32_t id, struct bar bars[6])
{
	switch (id) {
	case ID(0x1234, 0x11e8):
		drive_edu(slot, bars);
		break;
	case ID(0x1b36, 0x0005):
		drive_testdev(slot, bars);
		break;
	case ID(0x8086, 0x100e):
		drive_e1000(slot, bars, "e1000", 1);
		break;
	case ID(0x8086, 0x10d3):
		drive_e1000(slot, bars, "e1000e", 2);
		break;
	case ID(0x1000, 0x0012):
		drive_lsi(slot, bars);
		break;
	case ID(0x1b36, 0x0010):
		drive_nvme(slot, bars);
		break;
	case ID(0x1af4, 0x1000):
	case ID(0x1af4, 0x1041):
		drive_virtio(slot, bars, true);
		break;
	case ID(0x1af4, 0x1001):
	case ID(0x1af4, 0x1042):
		drive_virtio(slot, bars, false);
		break;
	default:
		return false;
	}
	return true;
}
