/*
 * One test per row of the "bad input" tables in docs/security.md that no
 * other suite covers by name: malformed requests on the plugin's main and
 * vCPU sockets and on the introspection socket, sent as real packets (with
 * real fds) to the real servers (plugin_env.h, kvmi_env.h). Each checks the
 * answer vigild gives, that the session goes on, and that no fd is left
 * behind in the server.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vigil/kvmi.h>

#include "fuzz_util.h"
#include "kvmi_env.h"
#include "plugin.pb-c.h"
#include "plugin_env.h"
#include "ps.h"
#include "vm.h"

static struct penv pe;

static void plugin_up(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		cr_skip_test("/dev/kvm is not available");
	cr_assert(penv_init(&pe) == 0);
	cr_assert(penv_up(&pe) == 0);
}

/* Send @req (with @fds) on the main socket; the reply's error. */
static int main_req(MainRequest *req, const int *fds, unsigned nfds, unsigned *rc)
{
	uint8_t buf[4096];
	size_t len = main_request__pack(req, buf);

	cr_assert(penv_call(&pe, pe.main_fd, buf, len, fds, nfds, 2000) == 1, "no reply");
	return penv_main_reply(&pe, rc);
}

static int main_raw(const void *buf, size_t len, unsigned *rc)
{
	cr_assert(penv_call(&pe, pe.main_fd, buf, len, NULL, 0, 2000) == 1, "no reply");
	return penv_main_reply(&pe, rc);
}

static int check_extension(void)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__CheckExtension ce = MAIN_REQUEST__CHECK_EXTENSION__INIT;
	unsigned rc;

	ce.extension = KVM_CAP_IRQCHIP;
	req.message_case = MAIN_REQUEST__MESSAGE_CHECK_EXTENSION;
	req.check_extension = &ce;
	return main_req(&req, NULL, 0, &rc);
}

Test(bad_input, plugin_truncated_request_is_einval_and_session_goes_on)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__ReserveRange rr = MAIN_REQUEST__RESERVE_RANGE__INIT;
	uint8_t buf[64];
	unsigned rc;
	size_t len;

	plugin_up();
	rr.space = ADDRESS_SPACE__IOPORT;
	rr.start = 0x60;
	rr.length = 4;
	req.message_case = MAIN_REQUEST__MESSAGE_RESERVE_RANGE;
	req.reserve_range = &rr;
	len = main_request__pack(&req, buf);
	cr_assert_eq(main_raw(buf, len - 2, &rc), -EINVAL);
	cr_assert_eq(rc, MAIN_RESPONSE__MESSAGE__NOT_SET);
	cr_assert_eq(main_raw("", 0, &rc), -EINVAL);
	cr_assert_eq(check_extension(), 0);
	penv_fini(&pe);
}

Test(bad_input, plugin_oversized_packet_is_einval_and_session_goes_on)
{
	size_t big = 600 << 10;   /* past the 512 KiB receive buffer */
	uint8_t *junk = calloc(1, big);
	int sz = 8 << 20;
	unsigned rc;

	plugin_up();
	cr_assert(setsockopt(pe.main_fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) == 0);
	memset(junk, 0x0a, big);
	cr_assert_eq(main_raw(junk, big, &rc), -EINVAL);
	cr_assert_eq(check_extension(), 0);
	free(junk);
	penv_fini(&pe);
}

Test(bad_input, plugin_unknown_ids_are_enoent_and_reused_ids_eexist)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Destroy ds = MAIN_REQUEST__DESTROY__INIT;
	MainRequest__MemoryDirtyLog dl = MAIN_REQUEST__MEMORY_DIRTY_LOG__INIT;
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Create__IrqEvent irq = MAIN_REQUEST__CREATE__IRQ_EVENT__INIT;
	unsigned rc;

	plugin_up();
	ds.id = 77;
	req.message_case = MAIN_REQUEST__MESSAGE_DESTROY;
	req.destroy = &ds;
	cr_assert_eq(main_req(&req, NULL, 0, &rc), -ENOENT);
	cr_assert_eq(rc, MAIN_RESPONSE__MESSAGE_DESTROY);
	dl.id = 77;
	req.message_case = MAIN_REQUEST__MESSAGE_DIRTY_LOG;
	req.dirty_log = &dl;
	cr_assert_eq(main_req(&req, NULL, 0, &rc), -ENOENT);
	irq.irq_id = 5;
	cr.id = 3;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT;
	cr.irq_event = &irq;
	req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
	req.create = &cr;
	cr_assert_eq(main_req(&req, NULL, 0, &rc), 0);
	cr_assert_eq(main_req(&req, NULL, 0, &rc), -EEXIST);
	penv_fini(&pe);
}

Test(bad_input, plugin_unknown_fields_are_ignored_unknown_oneof_is_einval)
{
	/* Field 50 (varint): no such request. Then CheckExtension{extension=1}
	 * with field 9 added inside: the request is served. */
	static const uint8_t unknown[] = { 0x90, 0x03, 0x01 };
	static const uint8_t extra[] = { 0x2a, 0x04, 0x08, 0x01, 0x48, 0x05 };
	unsigned rc;

	plugin_up();
	cr_assert_eq(main_raw(unknown, sizeof(unknown), &rc), -EINVAL);
	cr_assert_eq(rc, MAIN_RESPONSE__MESSAGE__NOT_SET);
	cr_assert_eq(main_raw(extra, sizeof(extra), &rc), 0);
	cr_assert_eq(rc, MAIN_RESPONSE__MESSAGE_CHECK_EXTENSION);
	penv_fini(&pe);
}

static int create_memory(int *fds, unsigned nfds)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Create__Memory m = MAIN_REQUEST__CREATE__MEMORY__INIT;
	unsigned rc;
	int r;

	m.start = 0x100000;
	m.length = 64 << 10;
	cr.id = 9;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY;
	cr.memory = &m;
	req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
	req.create = &cr;
	r = main_req(&req, fds, nfds, &rc);
	penv_close_fds(fds, nfds);
	return r;
}

/* 70 eventfds with one request: more than the 64 a packet may carry. */
static int too_many_fds(void)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 70)];
		struct cmsghdr align;
	} ctl;
	static const uint8_t req[] = { 0x2a, 0x00 };   /* CheckExtension{} */
	struct iovec iov = { .iov_base = (void *)req, .iov_len = sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fds[70], r = -1;
	unsigned rc;

	memset(&ctl, 0, sizeof(ctl));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	for (int i = 0; i < 70; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	cr_assert(sendmsg(pe.main_fd, &mh, 0) == sizeof(req));
	penv_close_fds(fds, 70);
	for (int i = 0; i < 100 && r < 0; i++) {
		penv_pump(&pe);
		if (penv_read(&pe, pe.main_fd) == 1)
			r = penv_main_reply(&pe, &rc);
		else
			usleep(1000);
	}
	return r;
}

Test(bad_input, plugin_bad_fds_are_refused_and_closed)
{
	int fds[2] = { -1, -1 }, base;

	plugin_up();
	base = fuzz_count_fds(-1);
	cr_assert_eq(create_memory(fds, 0), -EBADF);                       /* none */
	cr_assert_eq(create_memory(fds, penv_pool_fds(3, fds)), -EINVAL);  /* an eventfd */
	cr_assert_eq(create_memory(fds, penv_pool_fds(2, fds)), -EINVAL);  /* not sealed */
	cr_assert_eq(create_memory(fds, penv_pool_fds(7, fds)), -EINVAL);  /* too small */
	cr_assert_eq(create_memory(fds, penv_pool_fds(6, fds)), -EINVAL);  /* a directory */
	cr_assert_eq(create_memory(fds, penv_pool_fds(5, fds)), -EINVAL);  /* two memfds */
	/* An fd with a request that takes none is closed, not kept. */
	fds[0] = eventfd(0, EFD_CLOEXEC);
	{
		MainRequest req = MAIN_REQUEST__INIT;
		MainRequest__CheckExtension ce = MAIN_REQUEST__CHECK_EXTENSION__INIT;
		unsigned rc;

		req.message_case = MAIN_REQUEST__MESSAGE_CHECK_EXTENSION;
		req.check_extension = &ce;
		cr_assert_eq(main_req(&req, fds, 1, &rc), 0);
		close(fds[0]);
	}
	cr_assert_eq(fuzz_count_fds(base), base, "the server kept an fd it was sent");
	cr_assert_eq(too_many_fds(), -EINVAL);
	cr_assert_eq(fuzz_count_fds(base), base, "the server kept one of 70 fds");
	cr_assert_eq(create_memory(fds, penv_pool_fds(1, fds)), 0);        /* and a good one */
	penv_fini(&pe);
}

Test(bad_input, plugin_wrong_state_sizes_and_sets_are_einval)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetState ss = MAIN_REQUEST__SET_STATE__INIT;
	MainRequest__GetState gs = MAIN_REQUEST__GET_STATE__INIT;
	uint8_t state[sizeof(struct kvm_pit_state2) + 1] = { 0 };
	unsigned rc;

	plugin_up();
	ss.set = MAIN_REQUEST__STATE_SET__PIC0;
	ss.state.data = state;
	ss.state.len = sizeof(struct kvm_pic_state) - 1;
	req.message_case = MAIN_REQUEST__MESSAGE_SET_STATE;
	req.set_state = &ss;
	cr_assert_eq(main_req(&req, NULL, 0, &rc), -EINVAL);
	ss.set = MAIN_REQUEST__STATE_SET__PIT;
	ss.state.len = sizeof(struct kvm_pit_state2) + 1;
	cr_assert_eq(main_req(&req, NULL, 0, &rc), -EINVAL);
	gs.set = 9;
	req.message_case = MAIN_REQUEST__MESSAGE_GET_STATE;
	req.get_state = &gs;
	cr_assert_eq(main_req(&req, NULL, 0, &rc), -EINVAL);
	cr_assert_eq(rc, MAIN_RESPONSE__MESSAGE_GET_STATE);
	penv_fini(&pe);
}

static int vcpu_req(unsigned i, VcpuRequest *req, unsigned *rc)
{
	uint8_t buf[4096];
	size_t len = vcpu_request__pack(req, buf);

	cr_assert(penv_call(&pe, pe.vcpu_fd[i], buf, len, NULL, 0, 2000) == 1, "no reply");
	return penv_vcpu_reply(&pe, rc);
}

Test(bad_input, plugin_vcpu_replies_to_nothing_and_state_out_of_turn)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__Resume rs = VCPU_REQUEST__RESUME__INIT;
	VcpuRequest__Wait w = VCPU_REQUEST__WAIT__INIT;
	VcpuRequest__SetState ss = VCPU_REQUEST__SET_STATE__INIT;
	uint8_t regs[sizeof(struct kvm_regs) + 8] = { 0 };
	unsigned rc;

	plugin_up();
	cr_assert_eq(penv_get_vcpus(&pe), 0);
	cr_assert_eq(penv_pause(&pe, 1, 5), 0);
	cr_assert_eq(penv_start(&pe), 0);
	cr_assert_eq(penv_start(&pe), -EINVAL);     /* a second Start */
	/* A Resume nothing waits for. */
	req.message_case = VCPU_REQUEST__MESSAGE_RESUME;
	req.resume = &rs;
	cr_assert_eq(vcpu_req(0, &req, &rc), -EINVAL);
	cr_assert_eq(rc, VCPU_RESPONSE__MESSAGE_RESUME);
	/* State between events: EBUSY. */
	ss.set = VCPU_REQUEST__STATE_SET__REGS;
	ss.state.data = regs;
	ss.state.len = sizeof(struct kvm_regs);
	req.message_case = VCPU_REQUEST__MESSAGE_SET_STATE;
	req.set_state = &ss;
	cr_assert_eq(vcpu_req(0, &req, &rc), -EBUSY);
	/* Take the Init event: then a wrong size is EINVAL, the right one works. */
	req.message_case = VCPU_REQUEST__MESSAGE_WAIT;
	req.wait = &w;
	cr_assert_eq(vcpu_req(0, &req, &rc), 0);
	cr_assert_eq(rc, VCPU_RESPONSE__MESSAGE_WAIT);
	cr_assert_eq(vcpu_req(0, &req, &rc), -EBUSY);   /* not resumed yet */
	req.message_case = VCPU_REQUEST__MESSAGE_SET_STATE;
	req.set_state = &ss;
	ss.state.len = sizeof(struct kvm_regs) + 8;
	cr_assert_eq(vcpu_req(0, &req, &rc), -EINVAL);
	ss.state.len = sizeof(struct kvm_regs) - 8;
	cr_assert_eq(vcpu_req(0, &req, &rc), -EINVAL);
	ss.set = 42;
	cr_assert_eq(vcpu_req(0, &req, &rc), -EINVAL);
	/* Only the SynIC capabilities, with no flags or arguments. */
	{
		VcpuRequest__EnableCapability ec = VCPU_REQUEST__ENABLE_CAPABILITY__INIT;

		ec.capability = KVM_CAP_IRQCHIP;
		req.message_case = VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY;
		req.enable_capability = &ec;
		cr_assert_eq(vcpu_req(0, &req, &rc), -EINVAL);
		ec.capability = KVM_CAP_HYPERV_SYNIC;
		ec.flags = 1;
		cr_assert_eq(vcpu_req(0, &req, &rc), -EINVAL);
	}
	penv_fini(&pe);
}

Test(bad_input, plugin_vcpu_oversized_truncated_and_fds_are_einval_and_closed)
{
	static const uint8_t wait[] = { 0x0a, 0x00 };   /* VcpuRequest{wait{}} */
	size_t big = 600 << 10;
	uint8_t *junk = calloc(1, big);
	int efd, base;
	unsigned rc;

	plugin_up();
	cr_assert_eq(penv_get_vcpus(&pe), 0);
	base = fuzz_count_fds(-1);
	memset(junk, 0x0a, big);
	cr_assert(penv_call(&pe, pe.vcpu_fd[1], junk, big, NULL, 0, 2000) == 1);
	cr_assert_eq(penv_vcpu_reply(&pe, &rc), -EINVAL);
	cr_assert_eq(rc, VCPU_RESPONSE__MESSAGE__NOT_SET);
	cr_assert(penv_call(&pe, pe.vcpu_fd[1], wait, 1, NULL, 0, 2000) == 1);  /* cut */
	cr_assert_eq(penv_vcpu_reply(&pe, &rc), -EINVAL);
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert(penv_call(&pe, pe.vcpu_fd[1], junk, 16, &efd, 1, 2000) == 1);
	cr_assert_eq(penv_vcpu_reply(&pe, &rc), -EINVAL);
	close(efd);
	cr_assert_eq(fuzz_count_fds(base), base, "the server kept an fd sent on a vCPU socket");
	free(junk);
	penv_fini(&pe);
}

/* A plugin asking for connections and eventfd objects without end gets
 * EMFILE at its budget, long before vigild runs out of fds (1024 here, the
 * usual soft limit): the other peers can still connect. */
Test(bad_input, plugin_cannot_exhaust_vigilds_fds)
{
	struct rlimit rl = { 1024, 1024 };
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Create__IrqEvent irq = MAIN_REQUEST__CREATE__IRQ_EVENT__INIT;
	MainRequest__NewConnection nc = MAIN_REQUEST__NEW_CONNECTION__INIT;
	unsigned rc, made = 0, refused = 0;
	int base, r, probe;

	plugin_up();
	cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	base = fuzz_count_fds(-1);
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT;
	cr.irq_event = &irq;
	req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
	req.create = &cr;
	for (unsigned i = 0; i < 600; i++) {
		cr.id = i + 1;
		irq.irq_id = i % 24;
		r = main_req(&req, NULL, 0, &rc);
		cr_assert(r == 0 || r == -EMFILE, "irq event %u: %d", i, r);
		made += r == 0;
		refused += r == -EMFILE;
	}
	req.message_case = MAIN_REQUEST__MESSAGE_NEW_CONNECTION;
	req.new_connection = &nc;
	for (unsigned i = 0; i < 600; i++) {
		r = main_req(&req, NULL, 0, &rc);
		cr_assert(r == 0 || r == -EMFILE, "connection %u: %d", i, r);
		refused += r == -EMFILE;
	}
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert(probe >= 0, "the server used up every fd (%u objects made)", made);
	close(probe);
	cr_assert(made > 0 && refused > 0, "%u made, %u refused", made, refused);
	cr_assert(fuzz_count_fds(-1) - base <= 512, "the server holds %d more fds",
		  fuzz_count_fds(-1) - base);
	penv_fini(&pe);
}

static int reserve(uint64_t start, uint64_t len)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__ReserveRange rr = MAIN_REQUEST__RESERVE_RANGE__INIT;
	unsigned rc;

	rr.space = ADDRESS_SPACE__MMIO;
	rr.start = start;
	rr.length = len;
	req.message_case = MAIN_REQUEST__MESSAGE_RESERVE_RANGE;
	req.reserve_range = &rr;
	return main_req(&req, NULL, 0, &rc);
}

static int call_hint(uint64_t addr)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetCallHint h = MAIN_REQUEST__SET_CALL_HINT__INIT;
	unsigned rc;

	h.space = ADDRESS_SPACE__IOPORT;
	h.address = addr;
	req.message_case = MAIN_REQUEST__MESSAGE_SET_CALL_HINT;
	req.set_call_hint = &h;
	return main_req(&req, NULL, 0, &rc);
}

/* Ranges and hints are kept after removal (a vCPU may still use them): a
 * plugin toggling them forever must not grow vigild without bound. */
Test(bad_input, plugin_range_and_hint_churn_is_bounded)
{
	unsigned refused = 0;

	plugin_up();
	for (unsigned i = 0; i < 5000; i++) {      /* the same range on and off */
		cr_assert_eq(reserve(0xd0000000, 0x1000), 0, "toggle %u", i);
		cr_assert_eq(reserve(0xd0000000, 0), 0);
	}
	for (unsigned i = 0; i < 5000; i++) {      /* always a new one */
		int r = reserve(0xe0000000 + i * 0x1000ull, 0x1000);

		cr_assert(r == 0 || r == -ENOSPC, "range %u: %d", i, r);
		refused += r == -ENOSPC;
		if (!r)
			cr_assert_eq(reserve(0xe0000000 + i * 0x1000ull, 0), 0);
	}
	cr_assert(refused > 0 && pe.pl->nr_reserves <= PS_RESERVE_MAX, "%u kept",
		  pe.pl->nr_reserves);
	refused = 0;
	for (unsigned i = 0; i < 1000; i++) {
		cr_assert_eq(call_hint(0x60), 0);  /* the same hint again: kept once */
		refused += call_hint(0x1000 + i) == -ENOSPC;
	}
	cr_assert(refused > 0 && pe.pl->nr_hints <= PS_HINTS_MAX, "%u hints kept",
		  pe.pl->nr_hints);
	cr_assert_eq(call_hint(0x60), 0);
	penv_fini(&pe);
}

/* ---- introspection ---- */

static struct kenv ke;

static void kvmi_up(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		cr_skip_test("/dev/kvm is not available");
	cr_assert(kenv_init(&ke, FUZZ_GUEST_HALT) == 0);
	cr_assert(kenv_up(&ke) == 0);
}

/* Send a datagram; the next message from the engine (1), or none in 200 ms. */
static int kvmi_send(const void *buf, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	cr_assert(sendmsg(ke.fd, &mh, MSG_NOSIGNAL) == (ssize_t)len);
	for (int i = 0; i < 200; i++) {
		int r;

		kenv_pump(&ke);
		r = kenv_read(&ke);
		if (r)
			return r;
		usleep(1000);
	}
	return 0;
}

static int32_t kvmi_err(void)
{
	int32_t e;

	cr_assert(ke.msg_len >= 12);
	memcpy(&e, ke.msg + 8, sizeof(e));
	return e;
}

static void kvmi_version_works(void)
{
	struct vigil_kvmi_hdr h = { .msg_id = VIGIL_KVMI_GET_VERSION, .seq = 99 };

	cr_assert_eq(kvmi_send(&h, sizeof(h), -1), 1);
	cr_assert_eq(kvmi_err(), VIGIL_KVMI_OK);
}

Test(bad_input, kvmi_oversized_datagram_is_dropped_and_session_goes_on)
{
	size_t big = sizeof(struct vigil_kvmi_hdr) + VIGIL_KVMI_MAX_MSG + 100;
	uint8_t *buf = calloc(1, big);
	struct vigil_kvmi_hdr h = { .msg_id = VIGIL_KVMI_GET_VERSION, .size = 0xffff, .seq = 1 };
	int sz = 1 << 20;

	kvmi_up();
	cr_assert(setsockopt(ke.fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) == 0);
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(kvmi_send(buf, big, -1), 0, "an oversized datagram was answered");
	kvmi_version_works();
	free(buf);
	kenv_fini(&ke);
}

Test(bad_input, kvmi_event_reply_to_nothing_is_answered_with_an_error)
{
	struct {
		struct vigil_kvmi_hdr h;
		struct vigil_kvmi_event_reply r;
	} m = { { .msg_id = VIGIL_KVMI_EVENT_REPLY, .size = sizeof(m.r), .seq = 12345 },
		{ .action = VIGIL_KVMI_ACTION_ALLOW } };

	kvmi_up();
	cr_assert_eq(kvmi_send(&m, sizeof(m), -1), 1);
	cr_assert_eq(((struct vigil_kvmi_hdr *)ke.msg)->msg_id, VIGIL_KVMI_EVENT_REPLY);
	cr_assert_neq(kvmi_err(), VIGIL_KVMI_OK);
	kvmi_version_works();
	kenv_fini(&ke);
}

Test(bad_input, kvmi_fd_sent_to_the_engine_is_dropped)
{
	struct vigil_kvmi_hdr h = { .msg_id = VIGIL_KVMI_GET_VERSION, .seq = 5 };
	int efd, base;

	kvmi_up();
	base = fuzz_count_fds(-1);
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(kvmi_send(&h, sizeof(h), efd), 1);
	cr_assert_eq(kvmi_err(), VIGIL_KVMI_OK);
	close(efd);
	cr_assert_eq(fuzz_count_fds(base), base, "the engine kept an fd it was sent");
	kenv_fini(&ke);
}

Test(bad_input, kvmi_wrong_state_size_is_einval)
{
	struct {
		struct vigil_kvmi_hdr h;
		struct vigil_kvmi_set_regs s;
	} m;

	memset(&m, 0, sizeof(m));
	m.h = (struct vigil_kvmi_hdr){ .msg_id = VIGIL_KVMI_SET_REGISTERS,
				       .size = sizeof(m.s) - 8, .seq = 3 };
	kvmi_up();
	cr_assert_eq(kvmi_send(&m, sizeof(m) - 8, -1), 1);
	cr_assert_eq(kvmi_err(), VIGIL_KVMI_EINVAL);
	kenv_fini(&ke);
}

Test(bad_input, kvmi_empty_datagram_detaches_the_tool_guest_unaffected)
{
	kvmi_up();
	cr_assert_eq(kvmi_send("", 0, -1), -EPIPE, "the engine kept the connection");
	kenv_disconnect(&ke);
	cr_assert(!vm_stop_requested(ke.vm));
	cr_assert_eq(kenv_connect(&ke), 0);
	kvmi_version_works();
	kenv_fini(&ke);
}
