/*
 * vfio-user devices attached to a VM (vigild --device vfio-user,...).
 *
 * Each device server becomes a PCI function behind a minimal host bridge
 * (pci_host.h): its configuration region is forwarded (BARs, interrupt line
 * and ROM are virtualised), its BARs are placed in the MMIO hole and either
 * trapped (REGION_READ/REGION_WRITE from the vCPU thread) or mapped directly
 * where the server offers an mmap-able region. INTx is an eventfd the server
 * signals, wired to a GSI with KVM_IRQFD. Guest RAM is DMA-mapped with the
 * RAM memfd, or without it (dma=msg, or trace-dma=on) so that every device
 * access to guest memory arrives as DMA_READ/DMA_WRITE and is checked.
 *
 * A server that dies, hangs or misbehaves fails its device only: the guest
 * reads all-ones from it, vigild logs once and the VM goes on.
 */
#ifndef VIGIL_VFIO_DEV_H
#define VIGIL_VFIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vfio_set;
struct vfio_dev;

/* Direction of a device access to guest memory (same values as kvmi.h). */
#define VFIO_DMA_TO_DEVICE   0   /* the device reads guest memory */
#define VFIO_DMA_FROM_DEVICE 1   /* the device writes guest memory */

/*
 * The DMA introspection hook. With trace-dma=on, every device access to
 * [gpa, gpa+len) calls it from the device's reader thread before the access
 * happens. Return 0 to allow, -errno (-EACCES) to deny: the device gets the
 * errno and guest memory is untouched. It may wait for a peer (the
 * introspection tool's answer to a DMA event), bounded by half the device's
 * timeout so that the guest's own call to the device does not time out first.
 * Without a hook the built-in policy applies: a device write to a page that
 * is write-protected (MEMSLOT_READONLY) or a read of a page that is hidden
 * (MEMSLOT_ABSENT) is denied. kvmi_dma_check() (kvmi/kvmi.h) fits this type
 * through a one-line wrapper.
 */
typedef int (*vfio_dma_check_fn)(void *opaque, uint32_t dev_id, uint64_t gpa,
				 uint64_t len, int direction);

struct vfio_dev_spec {
	char socket[108];
	bool trace_dma;
	bool dma_msg;            /* DMA_MAP without the RAM fd */
	int timeout_ms;          /* per-call reply timeout */
};

/* Parse "vfio-user,socket=PATH[,trace-dma=on|off][,dma=fd|msg][,timeout=MS]".
 * -EINVAL with a message in @why. */
int vfio_parse_spec(const char *arg, struct vfio_dev_spec *out, char *why, size_t why_len);

/* Attach @n devices to @vm (before vm_start, in the reactor thread). Fails
 * (-errno, message in @why) for bad specs and unreachable sockets; a server
 * that connects but then fails the handshake or enumeration leaves a failed
 * device (all-ones) and a log line. */
int vfio_set_new(struct vfio_set **out, struct vm *vm, const char *const *args,
		 unsigned n, char *why, size_t why_len);
/* After the vCPU threads are joined, before vm_free. Accepts NULL. */
void vfio_set_free(struct vfio_set **s);
void vfio_set_dma_check(struct vfio_set *s, vfio_dma_check_fn fn, void *opaque);

unsigned vfio_set_count(const struct vfio_set *s);
struct vfio_dev *vfio_set_dev(struct vfio_set *s, unsigned i);

/* Introspection and tests. */
struct vfio_dev_stats {
	uint64_t dma_reads, dma_writes, dma_denied, region_calls;
};
bool vfio_dev_failed(const struct vfio_dev *d);
void vfio_dev_stats(const struct vfio_dev *d, struct vfio_dev_stats *out);
unsigned vfio_dev_slot(const struct vfio_dev *d);
/* The parsed --device options (trace_dma, timeout_ms, ...). */
const struct vfio_dev_spec *vfio_dev_spec(const struct vfio_dev *d);
unsigned vfio_dev_gsi(const struct vfio_dev *d);
/* Guest physical (or port) base of BAR @i, 0 if absent. */
uint64_t vfio_dev_bar(const struct vfio_dev *d, unsigned i);

#endif
