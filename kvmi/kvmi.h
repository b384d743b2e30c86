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
 *   0        allowed (no tool, or every page in the range has the access:
 *            r for a device read of guest memory, w for a device write);
 *   -EACCES  denied: the device must fail the transfer;
 *   -EINVAL  len 0, overflow or bad direction.
 * Any thread; never blocks and never waits for the tool (a device thread or
 * the reactor must not sleep on a peer). Denials are counted and logged
 * (rate-limited) with the device id.
 */
#define KVMI_DMA_TO_DEVICE   0   /* device reads guest memory */
#define KVMI_DMA_FROM_DEVICE 1   /* device writes guest memory */
int kvmi_dma_check(struct kvmi *k, uint32_t device_id, uint64_t gpa, uint64_t len,
		   int direction);
/* The same with the engine as @opaque: the shape of vfio_dma_check_fn
 * (server/vfio/vfio_dev.h), installed by vigild with vfio_set_dma_check. */
int kvmi_dma_check_hook(void *opaque, uint32_t device_id, uint64_t gpa, uint64_t len,
			int direction);

#endif
