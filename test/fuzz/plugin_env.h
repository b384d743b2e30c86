/*
 * A plugin server without a plugin process, for the plugin fuzz targets and
 * the fault tests: a real VM (no RAM, 2 vCPUs, in-kernel irqchip) served by
 * server/plugin through plugin_attach. Requests go in as real packets (with
 * real fds) on a SOCK_SEQPACKET socketpair, the loop is pumped in this
 * thread and replies are read back from the peer end.
 */
#ifndef VIGIL_FUZZ_PLUGIN_ENV_H
#define VIGIL_FUZZ_PLUGIN_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvm_host.h"

#define PENV_VCPUS   2
#define PENV_POOL    8    /* fd kinds a request may carry (see penv_pool_fds) */
#define PENV_REPLY   (1u << 20)

struct event;
struct event_base;
struct plugin;
struct vm;

struct penv {
	struct kvm_host kvm;
	struct event_base *base;
	struct event *mbox_ev;
	struct vm *vm;
	struct plugin *pl;
	int main_fd;                 /* the plugin's end of the main socket */
	int vcpu_fd[PENV_VCPUS];     /* the plugin's ends of the vCPU sockets, or -1 */
	uint8_t *reply;              /* last reply read */
	size_t reply_len;
	unsigned reply_nfds;
};

/* Open /dev/kvm. -errno (the caller skips without KVM). */
int penv_init(struct penv *e);
void penv_fini(struct penv *e);
/* A fresh VM and a fresh server attached to it (no vCPU sockets yet). */
int penv_up(struct penv *e);
/* Tear down server and VM (vm_shutdown first: vCPU threads point into it). */
void penv_down(struct penv *e);
/* Between inputs: a fresh server on the same VM, or a fresh VM and server
 * once the vCPUs were started or the VM stopped. */
int penv_reset(struct penv *e);
/* Send one packet with @nfds fds (not consumed) on @fd and pump until one
 * reply arrived or @timeout_ms passed. Returns 1 with the reply in
 * e->reply, 0 without one, -errno. Fds that came with the reply are closed. */
int penv_call(struct penv *e, int fd, const void *buf, size_t len, const int *fds,
	      unsigned nfds, int timeout_ms);
/* Pump the loop without blocking; read and drop replies on every socket. */
void penv_pump(struct penv *e);
/* Read one pending reply on @fd (dropped fds), 1 / 0 / -errno. */
int penv_read(struct penv *e, int fd);
/* Fill @fds with fresh fds of kind @kind (0..PENV_POOL-1); returns how many. */
unsigned penv_pool_fds(unsigned kind, int fds[2]);
void penv_close_fds(int *fds, unsigned n);
/* Main requests the environment itself makes (packed MainRequest). */
int penv_get_vcpus(struct penv *e);
int penv_start(struct penv *e);
int penv_pause(struct penv *e, uint64_t mask, uint64_t user);
/* Decode e->reply as a MainResponse / VcpuResponse: returns the error field,
 * and the response's oneof case in *resp_case; -EBADMSG if undecodable. */
int penv_main_reply(struct penv *e, unsigned *resp_case);
int penv_vcpu_reply(struct penv *e, unsigned *resp_case);

#endif
