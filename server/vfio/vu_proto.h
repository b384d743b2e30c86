/*
 * vfio-user wire format (QEMU docs/interop/vfio-user.rst), host endianness.
 *
 * Written from the specification. Flag values and region/IRQ indices are the
 * kernel's VFIO ABI (<linux/vfio.h>), which the protocol reuses.
 */
#ifndef VIGIL_VU_PROTO_H
#define VIGIL_VU_PROTO_H

#include <assert.h>
#include <stdint.h>

#define VU_PROTO_MAJOR 0
#define VU_PROTO_MINOR 2

enum vu_cmd {
	VU_CMD_VERSION = 1,
	VU_CMD_DMA_MAP = 2,
	VU_CMD_DMA_UNMAP = 3,
	VU_CMD_DEVICE_GET_INFO = 4,
	VU_CMD_DEVICE_GET_REGION_INFO = 5,
	VU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	VU_CMD_DEVICE_GET_IRQ_INFO = 7,
	VU_CMD_DEVICE_SET_IRQS = 8,
	VU_CMD_REGION_READ = 9,
	VU_CMD_REGION_WRITE = 10,
	VU_CMD_DMA_READ = 11,
	VU_CMD_DMA_WRITE = 12,
	VU_CMD_DEVICE_RESET = 13,
	VU_CMD_REGION_WRITE_MULTI = 15,
	VU_CMD_DEVICE_FEATURE = 16,
	VU_CMD_MAX = 19,
};

/* Header flags. */
#define VU_F_TYPE_MASK     0xfu
#define VU_F_TYPE_COMMAND  0x0u
#define VU_F_TYPE_REPLY    0x1u
#define VU_F_NO_REPLY      0x10u
#define VU_F_ERROR         0x20u
#define VU_F_KNOWN         (VU_F_TYPE_MASK | VU_F_NO_REPLY | VU_F_ERROR)

struct vu_hdr {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t msg_size;     /* whole message, header included */
	uint32_t flags;
	uint32_t error_no;     /* errno, valid in replies with VU_F_ERROR */
};
static_assert(sizeof(struct vu_hdr) == 16, "vfio-user header is 16 bytes");

struct vu_version {
	uint16_t major;
	uint16_t minor;
	/* followed by optional NUL-terminated JSON */
};
static_assert(sizeof(struct vu_version) == 4, "version payload");

/* DMA_MAP flags */
#define VU_DMA_READ   (1u << 0)
#define VU_DMA_WRITE  (1u << 1)

struct vu_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset;       /* offset in the passed fd, 0 without fd */
	uint64_t addr;
	uint64_t size;
};
static_assert(sizeof(struct vu_dma_map) == 32, "dma_map payload");

struct vu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
};
static_assert(sizeof(struct vu_dma_unmap) == 24, "dma_unmap payload");

struct vu_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};
static_assert(sizeof(struct vu_device_info) == 16, "device_info payload");

struct vu_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;   /* from the start of this struct */
	uint64_t size;
	uint64_t offset;       /* mmap offset */
};
static_assert(sizeof(struct vu_region_info) == 32, "region_info payload");

struct vu_cap_hdr {
	uint16_t id;
	uint16_t version;
	uint32_t next;         /* from the start of struct vu_region_info */
};
static_assert(sizeof(struct vu_cap_hdr) == 8, "cap header");

struct vu_sparse_mmap {
	uint32_t nr_areas;
	uint32_t reserved;
	/* followed by nr_areas x struct vu_sparse_area */
};
struct vu_sparse_area {
	uint64_t offset;
	uint64_t size;
};
static_assert(sizeof(struct vu_sparse_area) == 16, "sparse area");

struct vu_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};
static_assert(sizeof(struct vu_irq_info) == 16, "irq_info payload");

struct vu_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
	/* followed by count bools with VFIO_IRQ_SET_DATA_BOOL */
};
static_assert(sizeof(struct vu_irq_set) == 20, "irq_set payload");

struct vu_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	/* followed by data (write request, read reply) */
};
static_assert(sizeof(struct vu_region_access) == 16, "region r/w payload");

struct vu_dma_access {
	uint64_t addr;
	uint64_t count;
	/* followed by data (DMA_WRITE request, DMA_READ reply) */
};
static_assert(sizeof(struct vu_dma_access) == 16, "dma r/w payload");

struct vu_write_one {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	uint8_t data[8];
};
static_assert(sizeof(struct vu_write_one) == 24, "write_multi entry");
#define VU_WRITE_MULTI_MAX 200

/* Defaults the spec gives when a capability is absent. */
#define VU_DEF_MAX_MSG_FDS   1
#define VU_DEF_MAX_XFER      (1024u * 1024u)
#define VU_DEF_MAX_DMA_MAPS  65535u
#define VU_DEF_PGSIZES       4096ull

/* What this client accepts. */
#define VU_CLIENT_MAX_MSG_FDS 8
#define VU_CLIENT_MAX_XFER    (1024u * 1024u)
/* Largest body the client reads for any message it did not size itself. */
#define VU_MAX_CTRL_BODY      65536u

const char *vu_cmd_name(unsigned cmd);

#endif
