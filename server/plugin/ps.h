/*
 * Plugin server internals. One struct plugin per vigild; every object is
 * owned by it and lives until plugin_free, after the vCPU threads are joined
 * (iobus handlers and vCPU calls point into it).
 *
 * Threads: everything runs in the reactor except the functions in
 * ps_vcpu.c marked "vCPU thread", which only touch struct pvcpu's thread
 * side, post to the mailbox and wait on vcpu_call_reactor.
 */
#ifndef VIGIL_PLUGIN_PS_H
#define VIGIL_PLUGIN_PS_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "plugin.pb-c.h"
#include "vcpu.h"

#define PS_MAX_FDS          64
#define PS_RECV_BUF         (512 * 1024)
#define PS_SNDBUF           (4 * 1024 * 1024)
#define PS_OUTQ_MAX         64          /* queued replies before reads stop */
#define PS_ASYNC_MAX        256         /* async writes in flight per vCPU */
#define PS_PAUSE_MAX        1024        /* queued pauses per vCPU */
#define PS_GRACE_MS         500         /* plugin exit grace after a stop */
#define PS_IO_MAX           8
/* Fds a plugin can make vigild hold (connections, ioevent and irq eventfds):
 * well under the usual 1024 limit, so a plugin cannot starve the
 * introspection socket, device connections or vigild itself of fds. */
#define PS_FD_BUDGET        512
/* Range records and hint records outlive their use (a vCPU may still hold
 * one), so their number is capped; an identical retired one is reused. */
#define PS_RESERVE_MAX      4096
#define PS_HINTS_MAX        256

struct plugin;
struct pconn;

/* An event a vCPU hands to the plugin (sync: stops the vCPU). */
enum pev_kind { PEV_INIT, PEV_IO, PEV_PAUSED, PEV_HCALL, PEV_SYNIC, PEV_THROTTLE };

struct pevent {
	enum pev_kind kind;
	uint32_t space;
	uint64_t addr;
	bool is_write;
	uint32_t len;
	uint8_t data[PS_IO_MAX];
	uint64_t user;
	uint64_t hc_input, hc_params[2], hc_result;
	uint32_t synic_msr;
	uint64_t synic_control, synic_evt_page, synic_msg_page;
	bool has_regs, has_sregs, has_debugregs;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs debugregs;
};

/* An async write, posted by the vCPU thread without waiting. */
struct pasync {
	struct mbox_msg msg;
	struct pvcpu *pv;
	uint32_t space;
	uint64_t addr;
	uint32_t len;
	uint8_t data[PS_IO_MAX];
	TAILQ_ENTRY(pasync) link;
};

enum pv_sync { PV_IDLE, PV_QUEUED, PV_DELIVERED, PV_THROTTLED };

struct pvcpu {
	struct plugin *pl;
	struct vcpu *vcpu;          /* NULL until the vCPUs exist (Start) */
	unsigned id;
	/* vCPU thread side */
	struct vcpu_call call;
	struct pevent ev;           /* filled before the call, read by the reactor */
	bool init_done;
	_Atomic int async_inflight;
	/* pause queue: reactor pushes, vCPU thread pops */
	pthread_mutex_t lock;
	uint64_t pause_q[PS_PAUSE_MAX];
	unsigned pause_head, pause_n;
	/* reactor side */
	enum pv_sync sync;
	TAILQ_HEAD(, pasync) asyncq;
	struct pconn *waiting;      /* connection with a Wait outstanding */
	unsigned nr_conns;
	bool had_conn;              /* GetVcpus handed out a socket */
	struct event *grace_ev;
};

struct poutmsg {
	TAILQ_ENTRY(poutmsg) link;
	size_t len;
	unsigned nfds;
	int fds[PS_MAX_FDS];
	uint8_t data[];
};

struct pconn {
	struct plugin *pl;
	int fd;
	struct pvcpu *pv;           /* NULL: a main connection */
	struct event *rev, *wev;
	TAILQ_HEAD(, poutmsg) outq;
	unsigned outq_len;
	bool dead;
	LIST_ENTRY(pconn) link;
};

/* A reserved range: iobus opaque, never freed before the vCPUs are joined. */
struct preserve {
	struct plugin *pl;
	uint32_t space;
	uint64_t start, length;
	bool async;
	bool active;
	LIST_ENTRY(preserve) link;
};

/* Hypercall hint: immutable once published; old ones kept until the end. */
struct phint {
	uint32_t space;
	uint64_t address;
	bool on_write;
	unsigned nr;
	MainRequest__SetCallHint__RegHint d[32];
	LIST_ENTRY(phint) link;
};

enum pobj_kind { POBJ_IOEVENT, POBJ_MEMORY, POBJ_IRQEVENT };

struct pobj {
	uint32_t id;
	enum pobj_kind kind;
	LIST_ENTRY(pobj) link;
	union {
		struct {
			int evfd;
			struct kvm_ioeventfd kio;
		} io;
		struct {
			void *reserve;      /* mapping incl. guard pages */
			size_t reserve_len;
			uint64_t gpa, length;
			int region;
			bool dirty_log;
		} mem;
		struct {
			int evfd, resample_fd;
			uint32_t gsi;
		} irq;
	};
};

struct plugin {
	struct vm *vm;
	struct event_base *base;
	pid_t pid;
	int pidfd;
	struct event *pid_ev;
	bool exited;
	int exit_status;            /* vigild status derived from the plugin's */
	int shutdown_efd;
	bool started, stopping, tearing_down;
	struct pvcpu *vcpus;
	unsigned nr_vcpus;
	LIST_HEAD(, pconn) conns;
	LIST_HEAD(, pobj) objs;
	LIST_HEAD(, preserve) reserves;
	LIST_HEAD(, phint) hints;
	struct phint *_Atomic hint;
	uint8_t *rbuf;
	unsigned fds_held;          /* against PS_FD_BUDGET */
	unsigned nr_reserves, nr_hints;
};

/* ps_conn.c */
int pconn_new(struct plugin *pl, int fd, struct pvcpu *pv, struct pconn **out);
void pconn_free(struct pconn *c);
/* Queue one packet (takes no ownership of @fds: they are dup'ed by sendmsg
 * or copied and closed after sending if queued). */
int pconn_send(struct pconn *c, const ProtobufCMessage *msg, const int *fds, unsigned nfds);
/* A new socketpair: our end becomes a connection, the other end is returned. */
int pconn_pair(struct plugin *pl, struct pvcpu *pv, int *peer_fd);

/* ps_main.c: one MainRequest (fds: what came with it; consumed). */
void ps_main_request(struct pconn *c, const uint8_t *buf, size_t len, int *fds, unsigned nfds);
/* ps_vcpu_req.c */
void ps_vcpu_request(struct pconn *c, const uint8_t *buf, size_t len);
void ps_vcpu_try_deliver(struct pvcpu *pv);
void ps_vcpu_conn_gone(struct pvcpu *pv, struct pconn *c);
void ps_vcpu_fail_waits(struct plugin *pl, int err);
/* ps_vcpu.c (vCPU thread) */
int ps_io_handler(struct vcpu *vcpu, void *opaque, uint64_t addr, bool is_write,
		  void *data, unsigned len);
int ps_vcpu_plugin_request(struct vcpu *vcpu);
int ps_hyperv_handler(struct vcpu *vcpu, void *opaque);
void ps_event_cb(struct mbox_msg *msg);
void ps_async_cb(struct mbox_msg *msg);
/* ps_objects.c */
int ps_create(struct plugin *pl, MainRequest__Create *cr, int *fds, unsigned nfds,
	      int *out_fds, unsigned *nout);
int ps_destroy(struct plugin *pl, uint32_t id);
int ps_dirty_log(struct plugin *pl, uint32_t id, uint8_t **bitmap, size_t *len);
void ps_objects_free(struct plugin *pl);
/* ps_vmstate.c */
int ps_get_vm_state(struct plugin *pl, int set, uint8_t *out, size_t *len);
int ps_set_vm_state(struct plugin *pl, int set, const uint8_t *in, size_t len);
int ps_get_vcpu_state(struct pvcpu *pv, int set, uint8_t *out, size_t *len);
int ps_set_vcpu_state(struct pvcpu *pv, int set, const uint8_t *in, size_t len);
int ps_cpuid_list(struct plugin *pl, struct pvcpu *pv, unsigned long ioctl_nr,
		  CpuidEntry ***entries, size_t *n);
void ps_cpuid_list_free(CpuidEntry **entries, size_t n);
void ps_cpuid_from_wire(const CpuidEntry *w, struct kvm_cpuid_entry2 *e);
/* plugin.c */
void ps_plugin_gone(struct plugin *pl, struct pvcpu *pv);
/* Create the VM's vCPUs if not done yet and tie them to pl->vcpus. */
int ps_vcpus_create(struct plugin *pl);

#endif
