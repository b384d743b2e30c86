/*
 * libcrosvm_plugin internals: the objects behind crosvm.h's opaque handles and
 * the SOCK_SEQPACKET transport they share. Nothing here is exported.
 */
#ifndef CROSVM_PLUGIN_INTERNAL_H
#define CROSVM_PLUGIN_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <crosvm.h>
#include "plugin.pb-c.h"

#define CROSVM_MAX_FDS        64      /* fds accepted in one packet */
#define CROSVM_RESP_BUF       (64 * 1024)
#define CROSVM_IO_DATA_MAX    4096    /* largest access the server reports */

/* Shared by a connection and every connection made from it. */
struct crosvm_shared {
	_Atomic uint32_t next_id;
	_Atomic int refs;
};

struct crosvm {
	int fd;
	struct crosvm_shared *shared;
	struct crosvm_vcpu **vcpus;
	uint32_t nr_vcpus;
	int vcpus_loaded;               /* 0 not yet, 1 loaded, <0 error */
	uint8_t *buf;                   /* request and response packets */
	size_t buf_size;
};

struct crosvm_io {
	uint32_t id;
	int evfd;
};

struct crosvm_memory {
	uint32_t id;
	uint64_t length;
};

struct crosvm_irq {
	uint32_t id;
	int evfd;
	int resample_fd;
};

struct crosvm_vcpu {
	int fd;
	uint32_t id;
	int need_resume;                /* wait returned an event to resume */
	int resume_reply_pending;       /* a Resume was sent, its reply not read */
	int resume_error;               /* error carried by that reply */
	uint8_t io_data[CROSVM_IO_DATA_MAX];
	uint32_t io_len;
	int io_is_read;
	uint64_t hcall_result;
	int hcall_pending;
	/* State sent ahead with the event (hypercall hints); valid until resume. */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs debugregs;
	int regs_valid, sregs_valid, debugregs_valid;
	uint8_t *buf;
	size_t buf_size;
};

/* transport.c */
int cv_send(int fd, const ProtobufCMessage *msg, const int *fds, unsigned nfds);
/* Receive one packet into @buf. Returns its length or -errno. Received fds
 * are stored in @fds (up to @max_fds); extra ones are closed. */
int cv_recv(int fd, uint8_t *buf, size_t cap, int *fds, unsigned max_fds, unsigned *nfds);
void cv_close_fds(int *fds, unsigned nfds);
int cv_grow(uint8_t **buf, size_t *size, size_t need);

/* Main-socket transaction: send @req (with @out_fds), receive and check the
 * response (oneof matching the request, error == 0). On success *@resp must
 * be freed with main_response__free_unpacked(resp, NULL). @resp_cap: bytes
 * to expect at most (0: default). */
int cv_main_xfer(struct crosvm *c, MainRequest *req, const int *out_fds, unsigned nout,
		 MainResponse **resp, int *in_fds, unsigned max_in, unsigned *nin,
		 size_t resp_cap);
/* The same for a vCPU socket. */
int cv_vcpu_xfer(struct crosvm_vcpu *v, VcpuRequest *req, VcpuResponse **resp);
/* Read the reply of an earlier pipelined Resume, if one is pending. */
void cv_vcpu_collect_resume(struct crosvm_vcpu *v);

/* crosvm_vm.c */
int cv_load_vcpus(struct crosvm *c);
void cv_vcpu_free(struct crosvm_vcpu *v);

/* Copy of kvm_cpuid_entry2 <-> CpuidEntry. */
void cv_cpuid_to_wire(const struct kvm_cpuid_entry2 *e, CpuidEntry *w);
void cv_cpuid_from_wire(const CpuidEntry *w, struct kvm_cpuid_entry2 *e);
int cv_cpuid_copy_out(CpuidEntry **entries, size_t n, uint32_t cap,
		      struct kvm_cpuid_entry2 *out, uint32_t *out_count);

#define CV_EXPORT __attribute__((visibility("default")))

#endif
