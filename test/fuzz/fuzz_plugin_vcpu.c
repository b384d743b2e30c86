/*
 * Fuzz target: requests on the plugin's per-vCPU sockets, served by the real
 * plugin server for a real, started VM. Both vCPUs are real threads parked
 * on plugin events (Init, then User events from PauseVcpus: the environment
 * keeps one pause queued so a resumed vCPU parks again instead of running a
 * guest that has no memory), so Wait, Resume and every state request reach
 * KVM on a genuinely parked vCPU.
 *
 * Input: packets [u8 ctl][u16 length, little endian][bytes]; ctl bit 0 is
 * the vCPU, bit 7 sends the packet on the main socket instead.
 * Checked: every reply decodes with error <= 0 and answers the request's
 * oneof member; a resumed vCPU parks again within 2 s (no hung vCPU); the
 * VM never stops; no fd leaks across inputs.
 */
#include <poll.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "fuzz_util.h"
#include "plugin.pb-c.h"
#include "plugin_env.h"
#include "ps.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct penv env;
static int base_fds = -1;

static struct pvcpu *pv(unsigned i)
{
	return &env.pl->vcpus[i];
}

static unsigned pauses_queued(unsigned i)
{
	unsigned n;

	pthread_mutex_lock(&pv(i)->lock);
	n = pv(i)->pause_n;
	pthread_mutex_unlock(&pv(i)->lock);
	return n;
}

static void drain_replies(void)
{
	penv_pump(&env);
	while (penv_read(&env, env.main_fd) == 1)
		;
	for (unsigned i = 0; i < PENV_VCPUS; i++)
		while (penv_read(&env, env.vcpu_fd[i]) == 1)
			;
}

/* Every vCPU in transit (resumed, not parked again) parks within 2 s. */
static void settle(void)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		bool moving = false;
		struct pollfd p = { .fd = mailbox_fd(&env.vm->mailbox), .events = POLLIN };

		penv_pump(&env);
		for (unsigned i = 0; i < PENV_VCPUS; i++)
			moving |= pv(i)->sync == PV_IDLE;
		if (!moving)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		FUZZ_CHECK(t.tv_sec - t0.tv_sec < 3, "a resumed vCPU did not park again");
		poll(&p, 1, 10);
	}
}

static void top_up(void)
{
	for (unsigned i = 0; i < PENV_VCPUS; i++)
		if (pauses_queued(i) < 2)
			FUZZ_CHECK(penv_pause(&env, 1ull << i, 0x5a5a0000 + i) == 0, "pause");
}

static void bring_up(void)
{
	FUZZ_CHECK(penv_get_vcpus(&env) == 0, "GetVcpus");
	top_up();
	FUZZ_CHECK(penv_start(&env) == 0, "Start");
	settle();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(penv_init(&env) == 0, "cannot open /dev/kvm");
	FUZZ_CHECK(penv_up(&env) == 0, "cannot create the VM");
	bring_up();
	return 0;
}

static void check_reply(bool main, const uint8_t *buf, size_t len)
{
	unsigned rc, want = 0;
	int r = main ? penv_main_reply(&env, &rc) : penv_vcpu_reply(&env, &rc);

	FUZZ_CHECK(r != -EBADMSG, "undecodable reply");
	FUZZ_CHECK(r <= 0, "positive error %d", r);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %zu bytes -> case %u error %d\n", main ? "main" : "vcpu", len,
			rc, r);
	if (main)
		return;
	VcpuRequest *req = vcpu_request__unpack(NULL, len, buf);

	if (req) {
		want = req->message_case ? req->message_case + 1 : 0;
		vcpu_request__free_unpacked(req, NULL);
	}
	/* Wait replies may answer an earlier Wait: any reply is a Wait reply
	 * or matches this request. */
	FUZZ_CHECK(rc == want || rc == VCPU_RESPONSE__MESSAGE_WAIT, "reply case %u, want %u",
		   rc, want);
}

static void one_packet(unsigned ctl, const uint8_t *buf, size_t len)
{
	bool main = ctl & 0x80;
	int fd = main ? env.main_fd : env.vcpu_fd[ctl & 1];
	int r;

	top_up();
	r = penv_call(&env, fd, buf, len, NULL, 0, 0);
	FUZZ_CHECK(r >= 0, "send: %d", r);
	if (r == 1)
		check_reply(main, buf, len);
	settle();
	/* Replies that came later (a Wait answered once the vCPU parked). */
	while (penv_read(&env, fd) == 1)
		check_reply(main, buf, len);
}

/* Leave every vCPU parked on an undelivered event with no Wait outstanding. */
static void normalise(void)
{
	static const uint8_t resume[] = { 0x12, 0x00 };   /* VcpuRequest{resume{}} */

	for (int round = 0; round < 8; round++) {
		bool again = false;

		top_up();
		settle();
		drain_replies();
		for (unsigned i = 0; i < PENV_VCPUS; i++) {
			if (pv(i)->sync == PV_DELIVERED) {
				FUZZ_CHECK(penv_call(&env, env.vcpu_fd[i], resume, sizeof(resume),
						     NULL, 0, 0) >= 0, "resume");
				again = true;
			}
			again |= pv(i)->waiting != NULL;
		}
		if (!again)
			return;
	}
	FUZZ_CHECK(0, "the vCPUs did not settle");
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
		one_packet(ctl, data + off, len);
		off += len;
		FUZZ_CHECK(!vm_stop_requested(env.vm), "the VM stopped: %s", env.vm->stop.reason);
	}
	normalise();
	nfds = fuzz_count_fds(base_fds);
	if (nfds != base_fds)
		fuzz_dump_fds();
	FUZZ_CHECK(nfds == base_fds, "fd leak: %d open, %d before", nfds, base_fds);
	return 0;
}
