/*
 * vfio-user client against the vu-dma device server over real UNIX sockets:
 * negotiation, device/region/IRQ info, region access, interrupts through an
 * eventfd, DMA by message and by mmap, and every way a server can fail.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/vfio.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_dev.h"
#include "vu_dev.h"
#include "vu_test_util.h"

static struct vu_srv srv;
static struct vu_client *cli;
static struct vu_mem mem;

static void teardown(void)
{
	vu_client_free(&cli);
	vu_srv_stop(&srv);
	vu_mem_fini(&mem);
}

static void open_dev(const char *mode, const char *caps, int timeout_ms)
{
	cr_assert_eq(vu_mem_init(&mem, 1 << 20), 0);
	cr_assert_eq(vu_test_open(&srv, &cli, &mem, mode, caps, timeout_ms), 0);
}

static void wr32(uint64_t off, uint32_t v)
{
	cr_assert_eq(vu_dev_region_write(cli, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4), 0);
}

static void wr64(uint64_t off, uint64_t v)
{
	cr_assert_eq(vu_dev_region_write(cli, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 8), 0);
}

static uint32_t rd32(uint64_t off)
{
	uint32_t v = 0;

	cr_assert_eq(vu_dev_region_read(cli, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4), 0);
	return v;
}

/* Program a copy of @len bytes from 0x1000 to 0x8000 and ring the doorbell. */
static int start_copy(uint32_t len)
{
	uint32_t one = 1;

	wr64(DMA_DEV_REG_SRC, 0x1000);
	wr64(DMA_DEV_REG_DST, 0x8000);
	wr32(DMA_DEV_REG_LEN, len);
	return vu_dev_region_write(cli, VFIO_PCI_BAR0_REGION_INDEX, DMA_DEV_REG_DOORBELL,
				   &one, 4);
}

TestSuite(vfio_client, .fini = teardown, .timeout = 20);

Test(vfio_client, negotiates_server_capabilities)
{
	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_client_caps(cli)->max_msg_fds, 8);
	cr_assert_eq(vu_client_caps(cli)->max_dma_maps, 16);
	cr_assert_eq(vu_client_caps(cli)->max_data_xfer_size, 1048576);
	cr_assert_not(vu_client_caps(cli)->write_multiple, "server did not offer it");
	cr_assert_eq(vu_client_minor(cli), VU_PROTO_MINOR);
}

Test(vfio_client, absent_capabilities_take_spec_defaults)
{
	open_dev(NULL, "{}", 2000);
	cr_assert_eq(vu_client_caps(cli)->max_msg_fds, 1);
	cr_assert_eq(vu_client_caps(cli)->max_dma_maps, 65535);
}

Test(vfio_client, rejects_other_major_version)
{
	cr_assert_eq(vu_mem_init(&mem, 4096), 0);
	cr_assert_eq(vu_test_open(&srv, &cli, &mem, "bad-major", NULL, 2000), -EPROTONOSUPPORT);
	cr_assert(vu_client_failed(cli));
}

Test(vfio_client, rejects_capability_it_did_not_offer)
{
	cr_assert_eq(vu_mem_init(&mem, 4096), 0);
	cr_assert_eq(vu_test_open(&srv, &cli, &mem, NULL,
				  "{\"capabilities\":{\"twin_socket\":{\"supported\":true}}}",
				  2000), -EPROTO);
}

Test(vfio_client, rejects_malformed_capability_json)
{
	cr_assert_eq(vu_mem_init(&mem, 4096), 0);
	cr_assert_eq(vu_test_open(&srv, &cli, &mem, NULL,
				  "{\"capabilities\":{\"max_msg_fds\":\"many\"}}", 2000), -EINVAL);
}

Test(vfio_client, reads_device_and_irq_info)
{
	struct vu_device_info di;
	struct vu_irq_info ii;

	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_dev_get_info(cli, &di), 0);
	cr_assert(di.flags & VFIO_DEVICE_FLAGS_PCI);
	cr_assert_eq(di.num_regions, VFIO_PCI_NUM_REGIONS);
	cr_assert_eq(di.num_irqs, DMA_DEV_NUM_IRQS);
	cr_assert_eq(vu_dev_get_irq_info(cli, VFIO_PCI_INTX_IRQ_INDEX, &ii), 0);
	cr_assert_eq(ii.count, 1);
	cr_assert(ii.flags & VFIO_IRQ_INFO_EVENTFD);
}

Test(vfio_client, region_info_asks_again_and_parses_sparse_mmap)
{
	struct vu_region r;
	uint32_t v = 0xabcd1234;
	uint8_t *p;
	int fd;

	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_dev_get_region_info(cli, VFIO_PCI_BAR2_REGION_INDEX, &r, &fd), 0);
	cr_assert(r.flags & VFIO_REGION_INFO_FLAG_MMAP);
	cr_assert_eq(r.size, 8192);
	cr_assert(r.has_sparse, "capability chain only comes with the second request");
	cr_assert_eq(r.nr_sparse, 1);
	cr_assert_eq(r.sparse[0].offset, 4096);
	cr_assert_eq(r.sparse[0].size, 4096);
	cr_assert_geq(fd, 0, "mappable region comes with a descriptor");
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)r.offset);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(vu_dev_region_write(cli, VFIO_PCI_BAR2_REGION_INDEX, 4100, &v, 4), 0);
	cr_assert_eq(memcmp(p + 4100, &v, 4), 0, "region write visible through the mapping");
	munmap(p, 8192);
	close(fd);
}

Test(vfio_client, trapped_region_has_no_descriptor)
{
	struct vu_region r;
	int fd;

	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_dev_get_region_info(cli, VFIO_PCI_BAR0_REGION_INDEX, &r, &fd), 0);
	cr_assert_eq(fd, -1);
	cr_assert_eq(r.size, DMA_DEV_BAR0_SIZE);
	cr_assert_not(r.has_sparse);
}

Test(vfio_client, region_read_and_write)
{
	uint16_t vendor = 0;
	uint64_t v = 0x1122334455667788ULL, back = 0;

	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_dev_region_read(cli, VFIO_PCI_CONFIG_REGION_INDEX, 0, &vendor, 2), 0);
	cr_assert_eq(vendor, DMA_DEV_VENDOR);
	cr_assert_eq(rd32(DMA_DEV_REG_ID), DMA_DEV_ID);
	wr64(DMA_DEV_REG_SCRATCH, v);
	cr_assert_eq(vu_dev_region_read(cli, VFIO_PCI_BAR0_REGION_INDEX,
					DMA_DEV_REG_SCRATCH, &back, 8), 0);
	cr_assert_eq(back, v);
}

Test(vfio_client, interrupt_arrives_on_eventfd)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n = 0;

	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_dev_set_irqs(cli, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				     VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd), 0);
	cr_assert_eq(poll(&p, 1, 0), 0, "no interrupt before the doorbell");
	cr_assert_eq(start_copy(0), 0);
	cr_assert_eq(poll(&p, 1, 2000), 1);
	cr_assert_eq(read(efd, &n, 8), 8);
	cr_assert_eq(n, 1);
	close(efd);
}

Test(vfio_client, dma_by_message_when_no_descriptor)
{
	open_dev(NULL, NULL, 2000);
	memset(mem.p + 0x1000, 0x5a, 3000);
	cr_assert_eq(vu_dev_dma_map(cli, 0, mem.size, VU_DMA_READ | VU_DMA_WRITE, -1, 0), 0);
	cr_assert_eq(start_copy(3000), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_STATUS), DMA_DEV_STATUS_DONE);
	cr_assert_eq(memcmp(mem.p + 0x8000, mem.p + 0x1000, 3000), 0);
	cr_assert_eq(mem.dma_reads, 1);
	cr_assert_eq(mem.dma_writes, 1);
	cr_assert_eq(vu_client_dma_served(cli), 2);
}

Test(vfio_client, dma_by_mmap_when_descriptor_passed)
{
	open_dev(NULL, NULL, 2000);
	memset(mem.p + 0x1000, 0xa5, 3000);
	cr_assert_eq(vu_dev_dma_map(cli, 0, mem.size, VU_DMA_READ | VU_DMA_WRITE, mem.fd, 0), 0);
	cr_assert_eq(start_copy(3000), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_STATUS), DMA_DEV_STATUS_DONE);
	cr_assert_eq(memcmp(mem.p + 0x8000, mem.p + 0x1000, 3000), 0);
	cr_assert_eq(vu_client_dma_served(cli), 0, "the server used the mapping");
}

Test(vfio_client, dma_outside_any_window_is_refused)
{
	open_dev("dma-outside", NULL, 2000);
	cr_assert_eq(vu_dev_dma_map(cli, 0, mem.size, VU_DMA_READ | VU_DMA_WRITE, -1, 0), 0);
	cr_assert_eq(start_copy(16), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_STATUS), DMA_DEV_STATUS_ERROR | EFAULT);
	cr_assert_eq(mem.dma_reads, 0);
	cr_assert_not(vu_client_failed(cli));
}

Test(vfio_client, dma_write_to_read_only_window_is_refused)
{
	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_dev_dma_map(cli, 0, mem.size, VU_DMA_READ, -1, 0), 0);
	cr_assert_eq(start_copy(16), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_STATUS), DMA_DEV_STATUS_ERROR | EFAULT);
	cr_assert_eq(mem.dma_writes, 0);
}

Test(vfio_client, unmapped_window_is_no_longer_served)
{
	open_dev(NULL, NULL, 2000);
	cr_assert_eq(vu_dev_dma_map(cli, 0, mem.size, VU_DMA_READ | VU_DMA_WRITE, -1, 0), 0);
	cr_assert_eq(vu_dev_dma_unmap(cli, 0, mem.size), 0);
	cr_assert_eq(start_copy(16), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_STATUS), DMA_DEV_STATUS_ERROR | EFAULT);
}

Test(vfio_client, reset_is_acknowledged)
{
	open_dev(NULL, NULL, 2000);
	cr_assert_eq(start_copy(0), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_IRQS), 1);
	cr_assert_eq(vu_dev_reset(cli), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_IRQS), 0);
	cr_assert_eq(rd32(DMA_DEV_REG_RESETS), 1);
}

Test(vfio_client, error_reply_fails_only_that_access)
{
	uint32_t v;

	open_dev("error", NULL, 2000);
	cr_assert_eq(vu_dev_region_read(cli, VFIO_PCI_BAR0_REGION_INDEX, 0, &v, 4), -EIO);
	cr_assert_not(vu_client_failed(cli));
	wr64(DMA_DEV_REG_SCRATCH, 1);
}

Test(vfio_client, server_crash_mid_run_fails_the_device)
{
	uint32_t v;

	open_dev("crash", NULL, 2000);
	cr_assert_eq(start_copy(16), -ENOTCONN);
	cr_assert(vu_client_failed(cli));
	cr_assert_eq(vu_dev_region_read(cli, VFIO_PCI_BAR0_REGION_INDEX, 0, &v, 4), -ENOTCONN);
}

Test(vfio_client, hung_server_times_out)
{
	uint32_t v;

	open_dev("hang", NULL, 300);
	cr_assert_eq(start_copy(16), -ETIMEDOUT);
	cr_assert(vu_client_failed(cli));
	cr_assert_eq(vu_dev_region_read(cli, VFIO_PCI_BAR0_REGION_INDEX, 0, &v, 4), -ENOTCONN);
}

Test(vfio_client, malformed_reply_fails_the_device)
{
	open_dev("malformed", NULL, 2000);
	cr_assert_eq(start_copy(16), -ENOTCONN);
	cr_assert(vu_client_failed(cli));
}

Test(vfio_client, oversized_reply_fails_the_device)
{
	open_dev("oversized", NULL, 2000);
	cr_assert_eq(start_copy(16), -ENOTCONN);
	cr_assert(vu_client_failed(cli));
}
