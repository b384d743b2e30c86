/* Introspection engine internals: shared by the files in kvmi/. */
#ifndef VIGIL_KVMI_INT_H
#define VIGIL_KVMI_INT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <vigil/kvmi.h>

#include "kvmi.h"
#include "vcpu.h"
#include "vm.h"

#define KVMI_DEFAULT_TIMEOUT_MS 5000
#define KVMI_OUTQ_MAX (4u << 20)   /* bytes queued to a slow tool before we drop it */
#define KVMI_MAX_WATCHED_MSRS 64

struct kvmi;

/* Host capabilities, probed once at kvmi_new. */
struct kvmi_caps {
	bool user_msr;         /* MSR filter + KVM_EXIT_X86_WRMSR */
	bool readonly_mem;
	bool exception_payload;
	bool step_blockirq;
	bool sw_bp;            /* KVM_GUESTDBG_USE_SW_BP works (probed: never here) */
	bool sync_regs;        /* KVM_CAP_SYNC_REGS covers regs and sregs */
	uint64_t commands, events, events_caveat;
};

/* One queued outgoing datagram. */
struct kvmi_out {
	TAILQ_ENTRY(kvmi_out) link;
	size_t len;
	int fd;                /* passed with SCM_RIGHTS when >= 0 (not owned) */
	uint8_t buf[];
};

struct kvmi_conn {
	struct kvmi *k;
	int fd;
	struct event *ev_read, *ev_write;
	TAILQ_HEAD(, kvmi_out) outq;
	size_t outq_bytes;
	uint64_t bad_msgs;
	int rx_fd;             /* fd received with the message being handled */
	uint8_t *xfer;         /* SET_XFER buffer (tool's memfd, mapped) */
	size_t xfer_size;
};

/* An event on its way to the tool: owned jointly by the vCPU thread and the
 * mailbox handler (refs = 2), freed by whoever drops the last reference. */
struct kvmi_call {
	struct vcpu_call call;
	atomic_int refs;
	struct kvmi_vcpu *kv;
	uint32_t seq;
	bool answered;         /* under kv->lock */
	size_t len;
	uint8_t msg[];         /* hdr + event + specific */
};

/* Hardware breakpoint slot as the tool set it. */
struct kvmi_bp {
	bool enabled;
	uint8_t type, len;
	uint64_t gva;
};

/* Pending exception injection, written by the reactor while the vCPU waits. */
struct kvmi_inject {
	bool check;            /* vCPU: report delivery at the next exit */
	uint32_t vector, error_code;
	uint64_t cr2;
};

struct kvmi_vcpu {
	struct kvmi *k;
	struct vcpu *vcpu;
	pthread_mutex_t lock;  /* cur, in_event, reply, bps, inject */
	struct kvmi_call *cur;
	bool in_event;         /* parked in an event: the reactor may use vcpu->fd */
	struct vigil_kvmi_event_reply reply;
	struct kvmi_bp bps[VIGIL_KVMI_NR_HW_BPS];
	struct kvmi_inject inject;
	/* Control state: written by the reactor, read by the vCPU thread. */
	_Atomic uint64_t events;
	_Atomic uint32_t cr_mask;       /* bit n: CRn */
	_Atomic bool singlestep;
	_Atomic uint32_t pause_pending;
	_Atomic bool debug_dirty;       /* re-apply KVM_SET_GUEST_DEBUG */
	/* Filled once by the vCPU thread (CPUID as the guest sees it). */
	_Atomic bool cpuid_ready;
	struct kvm_cpuid_entry2 *cpuid;
	unsigned nr_cpuid;
	/* vCPU thread only. */
	bool stepping;                  /* KVM single-step currently on */
	bool step_check_now;            /* decode the instruction at RIP before entry */
	bool exec_restore;              /* a page was opened for one instruction */
	bool sync_fresh;                /* run->s.regs holds this exit's regs/sregs */
	uint64_t exec_restore_gpa;
	struct vcpu_call restore_call;
	bool q_parked;                  /* under k->q_lock */
};

/* A device thread waiting for the tool's answer to a DMA event (dma.c). */
struct kvmi_dma_wait {
	LIST_ENTRY(kvmi_dma_wait) link;
	uint32_t seq;
	bool done;             /* under k->dma.lock */
	bool unhooked;         /* released by detach / shutdown, not answered */
	struct vigil_kvmi_event_reply reply;
};

struct kvmi_dma_dev {
	uint32_t id;
	uint16_t slot;
	int wait_ms;           /* how long a denied DMA waits for the tool */
};

struct kvmi_dma {
	pthread_mutex_t lock;  /* waits, devs */
	pthread_cond_t cond;   /* CLOCK_MONOTONIC; broadcast when a wait is done */
	LIST_HEAD(, kvmi_dma_wait) waits;
	struct kvmi_dma_dev devs[KVMI_MAX_DMA_DEVICES];
	unsigned nr_devs;
	_Atomic bool enabled;  /* the tool enabled VIGIL_KVMI_EVENT_DMA */
	_Atomic bool stopping; /* kvmi_dma_shutdown: never wait again */
	_Atomic uint64_t denied, timeouts;
	pthread_t reactor;     /* kvmi_new's thread: must not wait for the tool */
};

/* Sorted set of restricted pages (access != RWX). */
struct kvmi_page {
	uint64_t gfn;
	uint8_t access;
};

struct kvmi_pages {
	pthread_rwlock_t lock;  /* vCPU threads read, reactor writes */
	struct kvmi_page *p;
	size_t nr, cap;
};

struct kvmi {
	struct vm *vm;
	struct event_base *base;
	struct kvmi_config cfg;
	char *path;
	int listen_fd;
	struct event *ev_listen;
	struct kvmi_conn *conn;        /* attached tool or NULL */
	pthread_rwlock_t conn_lock;    /* conn_fd for vCPU threads sending events */
	int conn_fd;
	struct kvmi_vcpu *vcpus;
	unsigned nr_vcpus;
	struct kvmi_caps caps;
	atomic_uint next_seq;          /* server-originated seq */
	_Atomic uint64_t generation;
	_Atomic bool hooked;           /* a tool is attached: vCPUs raise events */
	struct kvmi_pages pages;
	uint32_t msrs[KVMI_MAX_WATCHED_MSRS];  /* watched MSRs (VM-wide) */
	unsigned nr_msrs;
	bool msr_exits_on;
	bool port_registered;          /* the hypercall doorbell on the pio bus */
	struct kvmi_dma dma;
	bool dma_ready;                /* dma initialised (kvmi_free) */
	/* Events that took the default action at once because the tool's socket
	 * was full (it stopped reading): backpressure, see kvmi_raise. */
	_Atomic uint64_t events_unsent;
	/* An event went unanswered past the timeout; while the tool has still
	 * not read what was sent (SIOCOUTQ > 0), new events are not sent. */
	_Atomic bool tool_stalled;
	/* Quiescing around memslot changes (quiesce.c). */
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	bool q_active;
};

/* caps.c */
void kvmi_caps_probe(struct kvmi *k);

/* conn.c */
int kvmi_conn_send(struct kvmi_conn *c, const void *buf, size_t len, int fd);
int kvmi_reply(struct kvmi_conn *c, const struct vigil_kvmi_hdr *req, int err,
	       const void *body, size_t len);
int kvmi_reply_fd(struct kvmi_conn *c, const struct vigil_kvmi_hdr *req,
		  const void *body, size_t len, int fd);
void kvmi_detach(struct kvmi *k, uint32_t reason);

/* cmd.c / cmd_mem.c / cmd_ctl.c */
void kvmi_dispatch(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		   const void *body, size_t len);
int kvmi_cmd_mem(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		 const void *body, size_t len);
int kvmi_cmd_ctl(struct kvmi_conn *c, const struct vigil_kvmi_hdr *h,
		 const void *body, size_t len);
bool kvmi_zero(const void *p, size_t len);
int kvmi_err_from_errno(int err);
/* vCPU lookup + "parked in an event" lock; returns a VIGIL_KVMI_E* value. */
int kvmi_vcpu_lock_parked(struct kvmi *k, unsigned id, struct kvmi_vcpu **out);
/* One vCPU ioctl on a vCPU parked in an event (lock, ioctl, unlock): OK,
 * the lock's error, or @fail if the ioctl fails. */
int kvmi_parked_ioctl(struct kvmi *k, unsigned id, unsigned long req, void *arg, int fail);

/* event.c: direct send of a datagram to the tool from a non-reactor thread. */
enum kvmi_send_result { KVMI_SENT, KVMI_SOCKET_FULL, KVMI_NOT_SENT };
enum kvmi_send_result kvmi_send_direct(struct kvmi *k, const void *msg, size_t len);

/* dma.c */
int kvmi_dma_init(struct kvmi_dma *d);
void kvmi_dma_fini(struct kvmi_dma *d);
/* Reactor: the tool answered seq; VIGIL_KVMI_E* (ENOENT: nobody waits). */
int kvmi_dma_reply(struct kvmi *k, uint32_t seq, const struct vigil_kvmi_event_reply *q);
/* Reactor, on detach: event off, waiting device threads denied. */
void kvmi_dma_release(struct kvmi *k);

/* event.c: vCPU side */
extern const struct vcpu_hooks kvmi_hooks;
int kvmi_raise(struct kvmi_vcpu *kv, uint32_t kind, const void *spec, size_t spec_len,
	       struct vigil_kvmi_event_reply *reply);
void kvmi_event_reply(struct kvmi *k, const struct vigil_kvmi_hdr *h,
		      const void *body, size_t len);
void kvmi_release_all(struct kvmi *k);
int kvmi_vcpu_mode(const struct kvm_sregs *s);
bool kvmi_wants(struct kvmi_vcpu *kv, uint32_t kind);
void kvmi_crash(struct kvmi_vcpu *kv, const char *what);

/* msr.c */
int kvmi_msr_control(struct kvmi *k, uint32_t msr, bool enable);
int kvmi_msr_exit(struct kvmi_vcpu *kv);
void kvmi_msr_clear(struct kvmi *k);

/* pages.c */
int kvmi_pages_init(struct kvmi_pages *pg);
void kvmi_pages_fini(struct kvmi_pages *pg);
int kvmi_pages_set(struct kvmi *k, const struct vigil_kvmi_page_entry *e, size_t n);
uint8_t kvmi_pages_get(struct kvmi_pages *pg, uint64_t gpa);
void kvmi_pages_clear(struct kvmi *k);
int kvmi_pf_mmio(struct kvmi_vcpu *kv);
int kvmi_pf_exec(struct kvmi_vcpu *kv);
void kvmi_pf_exec_restore(struct kvmi_vcpu *kv);

/* quiesce.c */
int kvmi_quiesce_begin(struct kvmi *k);
void kvmi_quiesce_end(struct kvmi *k);
void kvmi_quiesce_point(struct kvmi_vcpu *kv);

/* walk.c: guest page-table walk. read(opaque, gpa, buf, len) -> 0/-errno. */
typedef int (*kvmi_read_fn)(void *opaque, uint64_t gpa, void *buf, size_t len);
int kvmi_walk(const struct kvm_sregs *s, uint64_t gva, kvmi_read_fn read, void *opaque,
	      uint64_t *gpa, unsigned *levels);

/* step.c: single-step intercepts (CR, XSETBV, descriptor loads, singlestep). */
int kvmi_debug_apply(struct kvmi_vcpu *kv);
/* KVM_SET_REGS that keeps single-stepping alive: x86 KVM re-arms the trap
 * flag only while RIP equals the RIP at KVM_SET_GUEST_DEBUG time, so after
 * any register write the guest-debug state is re-applied before the next
 * KVM_RUN. Returns like ioctl (-1 and errno). */
int kvmi_set_regs(struct kvmi_vcpu *kv, const struct kvm_regs *regs);
int kvmi_debug_exit(struct kvmi_vcpu *kv);
int kvmi_step_check(struct kvmi_vcpu *kv);
bool kvmi_needs_step(struct kvmi_vcpu *kv);

#endif
