/*
 * Introspection engine: serves the KVMI-style socket (include/vigil/kvmi.h)
 * for one VM and turns KVM exits into events for the attached tool.
 *
 * The engine is owned by the reactor thread (main). It listens on a UNIX
 * SOCK_SEQPACKET socket, accepts one tool at a time and installs vcpu_hooks
 * on the VM. vCPU threads raise events through vcpu_call_reactor and sleep
 * until the tool answers, the answer timeout passes (default action, warning)
 * or the tool detaches (ALLOW, every intercept removed).
 */
#ifndef VIGIL_KVMI_ENGINE_H
#define VIGIL_KVMI_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct vm;
struct kvmi;

struct kvmi_config {
	const char *path;        /* UNIX socket path; created mode 0600 */
	int answer_timeout_ms;   /* 0: default (5000); < 0: wait forever */
	uint8_t timeout_action;  /* VIGIL_KVMI_ACTION_ALLOW (default) or SKIP */
};

/* Create the engine: bind and listen on cfg->path, install the VM hooks.
 * Call before or after vm_start. -errno on failure (EADDRINUSE, ...). */
int kvmi_new(struct kvmi **out, struct vm *vm, struct event_base *base,
	     const struct kvmi_config *cfg);
/* Tell the tool (NOTIFY_UNHOOK), remove every intercept, release waiting
 * vCPUs with ALLOW, close the socket and unlink the path. Reactor thread,
 * AFTER vm_shutdown has joined the vCPU threads (they use the engine's
 * per-vCPU state until then; freeing earlier is a use-after-free) and before
 * vm_free. Sets *k to NULL; accepts NULL. */
void kvmi_free(struct kvmi **k);
/* True while a tool is attached. */
bool kvmi_attached(const struct kvmi *k);

/*
 * DMA checks for device emulation (vfio-user). A device about to access
 * [gpa, gpa+len) asks for the verdict of the page-access policy the tool
 * installed with SET_PAGE_ACCESS:
 *   0        allowed (no tool, every page in the range has the access: r for
 *            a device read of guest memory, w for a device write; or the
 *            tool answered ALLOW to the DMA event);
 *   -EACCES  denied: the device must fail the transfer;
 *   -EINVAL  len 0, overflow or bad direction.
 * Without the DMA event enabled it never blocks. With it (the tool enabled
 * VIGIL_KVMI_EVENT_DMA), every call sends an event; one the policy allows is
 * a notification and returns at once, one it denies waits for the tool's
 * answer for at most the DMA wait (kvmi_dma_add_device) and is denied when
 * none comes, the tool detaches or kvmi_dma_shutdown runs. So: call it from a
 * device thread, never from the reactor (there it does not wait: denied).
 * Final denials are counted and logged (rate-limited) with the device id.
 */
#define KVMI_DMA_TO_DEVICE   0   /* device reads guest memory */
#define KVMI_DMA_FROM_DEVICE 1   /* device writes guest memory */
int kvmi_dma_check(struct kvmi *k, uint32_t device_id, uint64_t gpa, uint64_t len,
		   int direction);
/* The same with the engine as @opaque: the shape of vfio_dma_check_fn
 * (server/vfio/vfio_dev.h), installed by vigild with vfio_set_dma_check. */
int kvmi_dma_check_hook(void *opaque, uint32_t device_id, uint64_t gpa, uint64_t len,
			int direction);
/* Declare device @device_id (its PCI slot, and the reply timeout of its
 * server, 0 if none): DMA events then carry the slot, and a denied DMA waits
 * for the tool at most min(answer timeout, device_timeout_ms / 2) so that the
 * guest's own call to the device (which waits device_timeout_ms for the
 * server, which waits for this DMA) does not time out first. Makes the DMA
 * event available (GET_VERSION). Reactor thread, before vm_start.
 * -ENOSPC beyond KVMI_MAX_DMA_DEVICES, -EINVAL for a duplicate id. */
#define KVMI_MAX_DMA_DEVICES 32
int kvmi_dma_add_device(struct kvmi *k, uint32_t device_id, unsigned pci_slot,
			int device_timeout_ms);
/* Release every device thread waiting for the tool (denied) and wait no
 * more. Reactor, after the reactor loop ended and before the devices are
 * freed (their threads join). Accepts NULL. */
void kvmi_dma_shutdown(struct kvmi *k);

#endif
