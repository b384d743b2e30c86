/*
 * libvigil_kvmi: client library for vigil's introspection socket.
 *
 * A tool connects to the UNIX socket given to `vigild --introspect PATH`,
 * issues commands (each a synchronous request/reply) and handles events with
 * wait / pop / reply. Events that arrive while a command waits for its reply
 * are queued, never lost. A handle is used by one thread at a time.
 *
 * Every int function returns 0 (or a count where documented) or -errno. The
 * server's error values (include/vigil/kvmi.h) map to: EINVAL, ENOSYS, EBUSY,
 * EFAULT, ENOMEM, E2BIG, ESTALE (stale generation cookie), EAGAIN (the vCPU is
 * not paused in an event), ENOENT (no such vCPU / nothing waits for that
 * reply), ENOSPC, EPERM, EIO, EMSGSIZE, ESHUTDOWN. Transport failures give
 * ECONNRESET (server gone) and ETIMEDOUT. The library never prints.
 */
#ifndef VIGIL_KVMI_CLIENT_H
#define VIGIL_KVMI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/kvmi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIGIL_KVMI_CLIENT_VERSION_MAJOR 0
#define VIGIL_KVMI_CLIENT_VERSION_MINOR 1

#if defined(__GNUC__)
#define VIGIL_KVMI_API __attribute__((visibility("default")))
#else
#define VIGIL_KVMI_API
#endif

struct vigil_kvmi;

/* One received event: the common part plus the kind's payload. A DMA event
 * (u.dma) comes from a device, not a vCPU: common.vcpu is VIGIL_KVMI_NO_VCPU
 * and the registers are zero; it needs an answer only with
 * VIGIL_KVMI_DMA_DENIED in u.dma.flags (vigil_kvmi_event_needs_reply). */
struct vigil_kvmi_ev {
	uint32_t seq;
	uint32_t padding;
	struct vigil_kvmi_event common;
	union {
		struct vigil_kvmi_event_cr cr;
		struct vigil_kvmi_event_msr msr;
		struct vigil_kvmi_event_xsetbv xsetbv;
		struct vigil_kvmi_event_descriptor desc;
		struct vigil_kvmi_event_breakpoint bp;
		struct vigil_kvmi_event_hypercall hc;
		struct vigil_kvmi_event_pf pf;
		struct vigil_kvmi_event_trap trap;
		struct vigil_kvmi_event_dma dma;
		uint8_t raw[64];
	} u;
};

/* Connect and wait for the server's ATTACH (at most timeout_ms; < 0 forever).
 * -EBUSY when another tool is attached. */
VIGIL_KVMI_API int vigil_kvmi_connect(const char *path, int timeout_ms, struct vigil_kvmi **out);
/* Close (the server then unhooks everything). Sets *c to NULL; accepts NULL. */
VIGIL_KVMI_API void vigil_kvmi_close(struct vigil_kvmi **c);
/* The socket, for poll(); readable when wait_event would make progress. */
VIGIL_KVMI_API int vigil_kvmi_fd(const struct vigil_kvmi *c);
/* vCPU count the server announced at attach. */
VIGIL_KVMI_API unsigned vigil_kvmi_nr_vcpus(const struct vigil_kvmi *c);
/* Per-command timeout (default 10000 ms; < 0 waits forever). */
VIGIL_KVMI_API void vigil_kvmi_set_timeout(struct vigil_kvmi *c, int timeout_ms);

/* ---- events ---- */
/* Wait until an event is queued. 0, -ETIMEDOUT, -ESHUTDOWN (the server sent
 * NOTIFY_UNHOOK), -ECONNRESET. */
VIGIL_KVMI_API int vigil_kvmi_wait_event(struct vigil_kvmi *c, int timeout_ms);
/* Take the oldest queued event; -EAGAIN when none. */
VIGIL_KVMI_API int vigil_kvmi_pop_event(struct vigil_kvmi *c, struct vigil_kvmi_ev *ev);
/* Answer @ev. flags: VIGIL_KVMI_REPLY_VALUE (use @value), VIGIL_KVMI_REPLY_CTX
 * (@ctx, @ctx_len <= 8 bytes returned to a SKIPped read). */
VIGIL_KVMI_API int vigil_kvmi_reply_event(struct vigil_kvmi *c, const struct vigil_kvmi_ev *ev,
			   unsigned action, unsigned flags, uint64_t value,
			   const void *ctx, size_t ctx_len);
/* 1 if @ev waits for vigil_kvmi_reply_event (every vCPU event, a denied
 * DMA), 0 for a DMA notification (the policy allowed it; a reply to it gets
 * ENOENT). */
VIGIL_KVMI_API int vigil_kvmi_event_needs_reply(const struct vigil_kvmi_ev *ev);
/* Error replies the server sent to EVENT_REPLY messages (late or malformed
 * answers): count so far, and the last error as -errno. */
VIGIL_KVMI_API unsigned vigil_kvmi_reply_errors(const struct vigil_kvmi *c, int *last);

/* ---- commands ---- */
VIGIL_KVMI_API int vigil_kvmi_get_version(struct vigil_kvmi *c, struct vigil_kvmi_version_reply *out);
VIGIL_KVMI_API int vigil_kvmi_get_guest_info(struct vigil_kvmi *c, struct vigil_kvmi_guest_info_reply *out);
VIGIL_KVMI_API int vigil_kvmi_pause_vcpu(struct vigil_kvmi *c, unsigned vcpu);
/* The vCPU must be paused in an event (-EAGAIN otherwise). msr_vals gets
 * nmsrs values for the indices in msrs; mode may be NULL. */
VIGIL_KVMI_API int vigil_kvmi_get_registers(struct vigil_kvmi *c, unsigned vcpu, struct kvm_regs *regs,
			     struct kvm_sregs *sregs, const uint32_t *msrs, unsigned nmsrs,
			     uint64_t *msr_vals, unsigned *mode);
VIGIL_KVMI_API int vigil_kvmi_set_registers(struct vigil_kvmi *c, unsigned vcpu, const struct kvm_regs *regs);
VIGIL_KVMI_API int vigil_kvmi_get_cpuid(struct vigil_kvmi *c, unsigned vcpu, uint32_t function,
			 uint32_t index, uint32_t out[4]);
VIGIL_KVMI_API int vigil_kvmi_get_xcr0(struct vigil_kvmi *c, unsigned vcpu, uint64_t *xcr0);
VIGIL_KVMI_API int vigil_kvmi_get_xsave(struct vigil_kvmi *c, unsigned vcpu, struct kvm_xsave *xsave);
/* Any length, split into VIGIL_KVMI_MAX_IO pieces. *generation (may be NULL)
 * is the cookie of the first piece: a later write with it fails with ESTALE
 * if anything changed guest memory through the tool interface since. */
VIGIL_KVMI_API int vigil_kvmi_read_physical(struct vigil_kvmi *c, uint64_t gpa, void *buf, size_t len,
			     uint64_t *generation);
/* Share a transfer buffer of @size bytes with the server (a memfd both map).
 * *buf points at it; a read_physical whose destination lies inside it is one
 * request of any length, copied once by the server. Once per handle. */
VIGIL_KVMI_API int vigil_kvmi_xfer_setup(struct vigil_kvmi *c, size_t size, void **buf);
/* generation 0 writes unconditionally; *new_generation may be NULL. */
VIGIL_KVMI_API int vigil_kvmi_write_physical(struct vigil_kvmi *c, uint64_t gpa, const void *buf, size_t len,
			      uint64_t generation, uint64_t *new_generation);
VIGIL_KVMI_API int vigil_kvmi_translate_gva(struct vigil_kvmi *c, unsigned vcpu, uint64_t gva,
			     uint64_t *gpa);
/* Any count, sent in batches of VIGIL_KVMI_MAX_PAGES (each batch all or
 * nothing). *slots_used (may be NULL): KVM memslots in use afterwards. */
VIGIL_KVMI_API int vigil_kvmi_set_page_access(struct vigil_kvmi *c, const struct vigil_kvmi_page_entry *e,
			       size_t n, unsigned *slots_used);
VIGIL_KVMI_API int vigil_kvmi_get_page_access(struct vigil_kvmi *c, uint64_t gpa, uint8_t *access);
/* op: VIGIL_KVMI_EVENTS_SET / ENABLE / DISABLE; *result (may be NULL). */
VIGIL_KVMI_API int vigil_kvmi_control_events(struct vigil_kvmi *c, unsigned vcpu, unsigned op,
			      uint64_t events, uint64_t *result);
VIGIL_KVMI_API int vigil_kvmi_control_cr(struct vigil_kvmi *c, unsigned vcpu, unsigned cr, int enable);
VIGIL_KVMI_API int vigil_kvmi_control_msr(struct vigil_kvmi *c, uint32_t msr, int enable);
VIGIL_KVMI_API int vigil_kvmi_control_singlestep(struct vigil_kvmi *c, unsigned vcpu, int enable);
VIGIL_KVMI_API int vigil_kvmi_inject_exception(struct vigil_kvmi *c, unsigned vcpu, unsigned vector,
				int has_error, uint32_t error_code, uint64_t cr2);
VIGIL_KVMI_API int vigil_kvmi_set_breakpoint(struct vigil_kvmi *c, unsigned vcpu, unsigned index,
			      int enable, unsigned type, unsigned len, uint64_t gva);
/* Receive the guest-RAM memfd (caller closes *fd) and up to *nr regions. */
VIGIL_KVMI_API int vigil_kvmi_get_memfd(struct vigil_kvmi *c, int *fd, struct vigil_kvmi_mem_region *regions,
			 unsigned *nr, uint64_t *size);
/* Remove every intercept and detach; the handle is then only good for close. */
VIGIL_KVMI_API int vigil_kvmi_unhook(struct vigil_kvmi *c);

/* ---- raw access (tests, fuzzers, new commands) ---- */
/* Send msg_id with @req as body; wait for the reply with the same seq and copy
 * its body (starting with struct vigil_kvmi_error) into @reply. Returns the
 * server's error as -errno, or the body length when it is OK. */
VIGIL_KVMI_API int vigil_kvmi_request(struct vigil_kvmi *c, unsigned msg_id, const void *req, size_t req_len,
		       void *reply, size_t reply_cap);
/* Send @len raw bytes as one datagram (no header added) and wait for a reply
 * carrying @seq; returns the server's error as -errno, 0 when OK. */
VIGIL_KVMI_API int vigil_kvmi_send_raw(struct vigil_kvmi *c, const void *buf, size_t len, uint32_t seq);

#ifdef __cplusplus
}
#endif

#endif
