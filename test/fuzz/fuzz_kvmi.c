/*
 * Fuzz target: introspection messages, served by the real engine (kvmi/,
 * created with kvmi_new exactly as vigild does) for a real VM whose vCPU
 * threads run the halt guest, through a real tool connection on its UNIX
 * socket. The engine has no buffer entry point of its own (its datagram
 * check, conn_message, is static in kvmi/conn.c), so the packets go through
 * the socket: that is the code vigild runs, header checks included.
 *
 * Input: packets [u8 ctl][u16 length, little endian][bytes]. ctl bit 0: put
 * the seq of the last EVENT into the header (so EVENT_REPLY can answer a real
 * event); bit 1: make the header's size field match the packet.
 * Checked: every message from the engine has a consistent size; every
 * command gets exactly one reply echoing msg_id and seq, with a known error
 * value; after the tool goes away no page restriction is left; no fd leaks.
 * A PAUSE_VCPU that succeeds must produce its PAUSE event (no hung vCPU).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <vigil/kvmi.h>

#include "fuzz_check.h"
#include "fuzz_util.h"
#include "kvmi_env.h"
#include "kvmi_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct kenv env;
static int base_fds = -1;
static bool dirty;   /* the guest's state may be damaged: new VM after this input */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(kenv_init(&env, FUZZ_GUEST_HALT) == 0, "cannot open /dev/kvm");
	FUZZ_CHECK(kenv_up(&env) == 0, "cannot start the VM");
	return 0;
}

struct sent {
	struct vigil_kvmi_hdr h;
	size_t len;
	unsigned replies;
	int err;
	bool unhooked;
};

static void look_at(struct sent *s)
{
	struct vigil_kvmi_hdr h;
	int32_t err;
	bool echo;

	FUZZ_CHECK(env.msg_len >= sizeof(h), "short message (%zu)", env.msg_len);
	memcpy(&h, env.msg, sizeof(h));
	FUZZ_CHECK(h.size == env.msg_len - sizeof(h), "size %u in a %zu-byte message", h.size,
		   env.msg_len);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "engine: msg %u seq %u size %u err %d\n", h.msg_id, h.seq, h.size,
			env.msg_len >= 12 ? *(int32_t *)(env.msg + 8) : -1);
	/* A reply echoes msg_id and seq, even for the ids of server messages
	 * (a tool sending EVENT or NOTIFY_UNHOOK gets ENOSYS under that id). */
	echo = s->len >= sizeof(h) && h.msg_id == s->h.msg_id && h.seq == s->h.seq;
	if (!echo && h.msg_id == VIGIL_KVMI_EVENT)
		return;
	if (!echo && h.msg_id == VIGIL_KVMI_NOTIFY_UNHOOK) {
		s->unhooked = true;
		return;
	}
	FUZZ_CHECK(env.msg_len >= sizeof(h) + sizeof(err), "reply without an error field");
	memcpy(&err, env.msg + sizeof(h), sizeof(err));
	FUZZ_CHECK(err >= VIGIL_KVMI_OK && err <= VIGIL_KVMI_ESHUTDOWN, "error value %d", err);
	if (echo) {
		s->replies++;
		s->err = err;
	} else if (s->len < sizeof(h) || h.size != s->len - sizeof(h)) {
		s->replies++;      /* a header the engine could not trust */
		s->err = err;
	}
}

static void read_all(struct sent *s)
{
	int r;

	kenv_pump(&env);
	while ((r = kenv_read(&env)) == 1)
		look_at(s);
	if (r == -EPIPE)
		s->unhooked = true;
}

/* Replies normally come in the same loop turn; one queued behind an event the
 * engine is still sending may take a few more. Wait up to 2 s for one, and
 * 2 ms for an answer to an EVENT_REPLY (a valid one gets none). */
static void read_reply(struct sent *s, bool maybe_none)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = { { .fd = env.fd, .events = POLLIN },
			{ .fd = mailbox_fd(&env.vm->mailbox), .events = POLLIN } };
		long ms;

		read_all(s);
		if (s->replies || s->unhooked || env.fd < 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= (maybe_none ? 2 : 2000))
			return;
		poll(p, 2, 1);
	}
}

static void wait_event(unsigned before)
{
	struct timespec t0, t;
	struct sent none = { .len = 0 };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd p[2] = { { .fd = env.fd, .events = POLLIN },
			{ .fd = mailbox_fd(&env.vm->mailbox), .events = POLLIN } };

		poll(p, 2, 5);
		read_all(&none);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (env.nr_events == before && env.fd >= 0 && !vm_stop_requested(env.vm) &&
		 t.tv_sec - t0.tv_sec < 4);
	/* Events the input left unanswered each hold the vCPU for the answer
	 * timeout (500 ms) first; a guest that died (injections, registers)
	 * raises nothing. */
	FUZZ_CHECK(env.nr_events != before || none.unhooked || vm_stop_requested(env.vm),
		   "a paused vCPU raised no event in 4 s");
}

static void one_packet(unsigned ctl, const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct sent s = { .len = len };
	unsigned before = env.nr_events;
	uint64_t gpa;

	FUZZ_CHECK(buf, "malloc");
	memcpy(buf, data, len);
	if (len >= sizeof(s.h)) {
		memcpy(&s.h, buf, sizeof(s.h));
		if (ctl & 1)
			s.h.seq = env.last_event_seq;
		if (ctl & 2)
			s.h.size = (uint16_t)(len - sizeof(s.h));
		memcpy(buf, &s.h, sizeof(s.h));
	}
	FUZZ_CHECK(send(env.fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len, "send");
	free(buf);
	read_reply(&s, len >= sizeof(s.h) && s.h.msg_id == VIGIL_KVMI_EVENT_REPLY &&
			   s.h.size == len - sizeof(s.h));
	if (len >= sizeof(s.h) && s.h.msg_id == VIGIL_KVMI_EVENT_REPLY &&
	    s.h.size == len - sizeof(s.h))
		FUZZ_CHECK(s.replies <= 1, "%u answers to an EVENT_REPLY", s.replies);
	else if (len == 0)   /* reads like EOF on SOCK_SEQPACKET: the engine detaches */
		FUZZ_CHECK(s.replies == 1 || s.unhooked, "empty datagram: no reply, no detach");
	else
		FUZZ_CHECK(s.replies == 1, "%u replies to message %u (%zu bytes)", s.replies,
			   s.h.msg_id, len);
	switch (s.h.msg_id) {
	case VIGIL_KVMI_PAUSE_VCPU:
		if (s.replies == 1 && s.err == 0 && s.h.size == len - sizeof(s.h))
			wait_event(before);
		break;
	case VIGIL_KVMI_WRITE_PHYSICAL:
		/* Only writes below 5 MiB can hit the guest's code, tables or stacks. */
		if (s.replies == 1 && s.err == 0 && len >= sizeof(s.h) + sizeof(gpa)) {
			memcpy(&gpa, data + sizeof(s.h), sizeof(gpa));
			dirty |= gpa < 0x500000;
		}
		break;
	case VIGIL_KVMI_SET_REGISTERS:
	case VIGIL_KVMI_INJECT_EXCEPTION:
	case VIGIL_KVMI_SET_BREAKPOINT:
	case VIGIL_KVMI_CONTROL_SINGLESTEP:
		dirty |= s.replies == 1 && s.err == 0;
		break;
	}
	if (s.unhooked)
		kenv_disconnect(&env);
}

static void reset(void)
{
	kenv_disconnect(&env);
	FUZZ_CHECK(!kvmi_attached(env.k), "still attached after the tool left");
	FUZZ_CHECK(env.k->pages.nr == 0, "%zu page restrictions left after the tool left",
		   env.k->pages.nr);
	if (dirty || vm_stop_requested(env.vm)) {
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "new VM (%s)\n", dirty ? "guest state touched" : "VM stopped");
		kenv_down(&env);
		FUZZ_CHECK(kenv_up(&env) == 0, "cannot restart the VM");
		dirty = false;
		return;
	}
	FUZZ_CHECK(kenv_connect(&env) == 0, "cannot attach again");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	int nfds;

	if (base_fds < 0)
		base_fds = fuzz_count_fds(-1);
	while (off + 3 <= size) {
		unsigned ctl = data[off];
		size_t len = data[off + 1] | (size_t)data[off + 2] << 8;

		off += 3;
		if (len > size - off)
			len = size - off;
		if (env.fd < 0)
			FUZZ_CHECK(kenv_connect(&env) == 0, "cannot attach again");
		one_packet(ctl, data + off, len);
		off += len;
	}
	reset();
	nfds = fuzz_count_fds(base_fds);
	if (nfds != base_fds)
		fuzz_dump_fds();
	FUZZ_CHECK(nfds == base_fds, "fd leak: %d open, %d before", nfds, base_fds);
	return 0;
}
