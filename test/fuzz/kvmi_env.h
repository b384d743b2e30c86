/*
 * The introspection engine without a vigild process, for the kvmi fuzz
 * target: a real VM running the halt guest (long mode, vCPU threads started)
 * with kvmi_new listening on a UNIX socket in /tmp, and one tool connection
 * made from this thread. The loop is pumped here; messages from the engine
 * are read back with their fds closed.
 */
#ifndef VIGIL_FUZZ_KVMI_ENV_H
#define VIGIL_FUZZ_KVMI_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm_host.h"

#define KENV_VCPUS 2
#define KENV_MSG   (65536 + 64)

struct event;
struct event_base;
struct kvmi;
struct vm;

struct kenv {
	struct kvm_host kvm;
	struct event_base *base;
	struct event *mbox_ev;
	struct vm *vm;
	struct kvmi *k;
	char path[108];
	int fd;                   /* the tool's socket, -1 when detached */
	uint8_t *msg;             /* last message read */
	size_t msg_len;
	uint32_t last_event_seq;  /* seq of the last EVENT read */
	unsigned nr_events;
};

int kenv_init(struct kenv *e, const char *guest);
void kenv_fini(struct kenv *e);
/* A fresh VM running the guest, with the engine listening and a tool attached. */
int kenv_up(struct kenv *e);
void kenv_down(struct kenv *e);
/* Connect a tool (the engine answers with ATTACH). */
int kenv_connect(struct kenv *e);
/* Close the tool's socket and let the engine detach. */
void kenv_disconnect(struct kenv *e);
/* Pump the loop once without blocking. */
void kenv_pump(struct kenv *e);
/* Read one message: 1 with it in e->msg, 0 if none, -EPIPE at EOF. */
int kenv_read(struct kenv *e);

#endif
