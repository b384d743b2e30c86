/*
 * Fuzz target: the plugin's I/O path. A real guest (guests/io.c, loaded into
 * plugin-created memory and put into long mode through the protocol, as a
 * plugin does) runs on both vCPUs and keeps exiting into ranges the harness
 * reserved: synchronous port and MMIO ranges (the vCPU parks on an Io event)
 * and an async port (writes queue without stopping the vCPU, up to the
 * throttle), with a call hint on one port. The input drives the vCPU
 * sockets: Wait, Resume with fuzzed data for the guest's reads, and the
 * read-only state requests; requests that would change guest state are
 * skipped so the guest keeps running the same loop.
 *
 * Input: packets [u8 ctl][u16 length, little endian][bytes]; ctl bit 0 is
 * the vCPU. Checked: replies decode with error <= 0; both vCPUs come back to
 * an event within 3 s after every packet (no hung vCPU); the VM never stops;
 * no fd leaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vigil/guest_abi.h>

#include "elf_loader.h"
#include "fuzz_check.h"
#include "fuzz_util.h"
#include "plugin.pb-c.h"
#include "plugin_env.h"
#include "ps.h"
#include "vm.h"
#include "x86_setup.h"

#define RAM_SIZE (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct penv env;
static int base_fds = -1;
static uint64_t entry;

static int main_call(MainRequest *req, int *fds, unsigned nfds)
{
	uint8_t buf[4096];
	size_t len = main_request__pack(req, buf);
	unsigned rc;

	FUZZ_CHECK(penv_call(&env, env.main_fd, buf, len, fds, nfds, 2000) == 1, "no reply");
	return penv_main_reply(&env, &rc);
}

static int vcpu_call(unsigned i, VcpuRequest *req)
{
	uint8_t buf[4096];
	size_t len = vcpu_request__pack(req, buf);
	unsigned rc;

	FUZZ_CHECK(penv_call(&env, env.vcpu_fd[i], buf, len, NULL, 0, 2000) == 1, "no reply");
	return penv_vcpu_reply(&env, &rc);
}

static void reserve(uint32_t space, uint64_t start, uint64_t len, bool async)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__ReserveRange rr = MAIN_REQUEST__RESERVE_RANGE__INIT;

	rr.space = space;
	rr.start = start;
	rr.length = len;
	rr.async_write = async;
	req.message_case = MAIN_REQUEST__MESSAGE_RESERVE_RANGE;
	req.reserve_range = &rr;
	FUZZ_CHECK(main_call(&req, NULL, 0) == 0, "reserve %#lx", (unsigned long)start);
}

/* Guest RAM from a sealed memfd holding the long-mode tables and the ELF. */
static void create_ram(void)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Create__Memory m = MAIN_REQUEST__CREATE__MEMORY__INIT;
	struct elf_image img;
	char why[160];
	void *elf;
	size_t len;
	uint8_t *ram;
	int fd = memfd_create("fuzz-io-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	FUZZ_CHECK(fd >= 0 && ftruncate(fd, RAM_SIZE) == 0 &&
		   fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "memfd");
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	FUZZ_CHECK(ram != MAP_FAILED, "mmap");
	FUZZ_CHECK(elf_read_file(FUZZ_GUEST_IO, 1 << 20, &elf, &len) == 0, "read guest");
	FUZZ_CHECK(x86_setup_memory(ram, RAM_SIZE, PENV_VCPUS) == 0, "tables");
	FUZZ_CHECK(elf_load(elf, len, ram, RAM_SIZE, VIGIL_GUEST_LOAD_MIN, &img, why,
			    sizeof(why)) == 0, "elf: %s", why);
	free(elf);
	munmap(ram, RAM_SIZE);
	m.length = RAM_SIZE;
	cr.id = 1;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY;
	cr.memory = &m;
	req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
	req.create = &cr;
	FUZZ_CHECK(main_call(&req, &fd, 1) == 0, "create memory");
	close(fd);
	entry = img.entry;
}

/* A state reply's bytes into @out (exactly @len). */
static void get_state(unsigned i, int set, void *out, size_t len)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__GetState gs = VCPU_REQUEST__GET_STATE__INIT;
	VcpuResponse *r;

	gs.set = set;
	req.message_case = VCPU_REQUEST__MESSAGE_GET_STATE;
	req.get_state = &gs;
	FUZZ_CHECK(vcpu_call(i, &req) == 0, "get state %d", set);
	r = vcpu_response__unpack(NULL, env.reply_len, env.reply);
	FUZZ_CHECK(r && r->get_state && r->get_state->state.len == len, "state %d size", set);
	memcpy(out, r->get_state->state.data, len);
	vcpu_response__free_unpacked(r, NULL);
}

static void set_state(unsigned i, int set, void *in, size_t len)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__SetState ss = VCPU_REQUEST__SET_STATE__INIT;

	ss.set = set;
	ss.state.data = in;
	ss.state.len = len;
	req.message_case = VCPU_REQUEST__MESSAGE_SET_STATE;
	req.set_state = &ss;
	FUZZ_CHECK(vcpu_call(i, &req) == 0, "set state %d", set);
}

/* On the Init event: long mode at the entry, runnable, then resume. */
static void init_vcpu(unsigned i)
{
	VcpuRequest req = VCPU_REQUEST__INIT;
	VcpuRequest__Wait w = VCPU_REQUEST__WAIT__INIT;
	VcpuRequest__Resume rs = VCPU_REQUEST__RESUME__INIT;
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sr;
	struct kvm_regs regs;

	req.message_case = VCPU_REQUEST__MESSAGE_WAIT;
	req.wait = &w;
	FUZZ_CHECK(vcpu_call(i, &req) == 0, "wait for init");
	get_state(i, VCPU_REQUEST__STATE_SET__SREGS, &sr, sizeof(sr));
	x86_sregs_long_mode(&sr, i);
	set_state(i, VCPU_REQUEST__STATE_SET__SREGS, &sr, sizeof(sr));
	x86_regs_entry(&regs, i, PENV_VCPUS, entry);
	set_state(i, VCPU_REQUEST__STATE_SET__REGS, &regs, sizeof(regs));
	set_state(i, VCPU_REQUEST__STATE_SET__MP, &mp, sizeof(mp));
	req.message_case = VCPU_REQUEST__MESSAGE_RESUME;
	req.resume = &rs;
	FUZZ_CHECK(vcpu_call(i, &req) == 0, "resume init");
}

static void call_hint(void)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__SetCallHint h = MAIN_REQUEST__SET_CALL_HINT__INIT;
	MainRequest__SetCallHint__RegHint d = MAIN_REQUEST__SET_CALL_HINT__REG_HINT__INIT;
	MainRequest__SetCallHint__RegHint *ds[1] = { &d };

	d.send_sregs = true;
	d.send_debugregs = true;
	h.space = ADDRESS_SPACE__IOPORT;
	h.address = 0x510;
	h.on_write = true;
	h.n_hints = 1;
	h.hints = ds;
	req.message_case = MAIN_REQUEST__MESSAGE_SET_CALL_HINT;
	req.set_call_hint = &h;
	FUZZ_CHECK(main_call(&req, NULL, 0) == 0, "call hint");
}

static struct pvcpu *pv(unsigned i)
{
	return &env.pl->vcpus[i];
}

/* Every vCPU is back on an event (or throttled) within 3 s. */
static void settle(void)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = mailbox_fd(&env.vm->mailbox), .events = POLLIN };
		bool moving = false;

		penv_pump(&env);
		for (unsigned i = 0; i < PENV_VCPUS; i++)
			moving |= pv(i)->sync == PV_IDLE;
		if (!moving)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		FUZZ_CHECK(t.tv_sec - t0.tv_sec < 3, "a resumed vCPU did not come back");
		poll(&p, 1, 5);
	}
}

static void bring_up(void)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Start st = MAIN_REQUEST__START__INIT;

	create_ram();
	for (unsigned i = 0; i < PENV_VCPUS; i++) {
		reserve(ADDRESS_SPACE__IOPORT, 0x510 + 0x10 * i, 2, false);
		reserve(ADDRESS_SPACE__IOPORT, 0x512 + 0x10 * i, 1, true);
	}
	reserve(ADDRESS_SPACE__MMIO, 0xd0000000, 0x1000, false);
	call_hint();
	FUZZ_CHECK(penv_get_vcpus(&env) == 0, "GetVcpus");
	req.message_case = MAIN_REQUEST__MESSAGE_START;
	req.start = &st;
	FUZZ_CHECK(main_call(&req, NULL, 0) == 0, "Start");
	for (unsigned i = 0; i < PENV_VCPUS; i++)
		init_vcpu(i);
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

/* Requests that leave the guest's state alone pass; the rest are skipped. */
static bool allowed(const uint8_t *buf, size_t len)
{
	VcpuRequest *req = vcpu_request__unpack(NULL, len, buf);
	bool ok = true;

	if (!req)
		return true;   /* undecodable: the server answers EINVAL */
	switch (req->message_case) {
	case VCPU_REQUEST__MESSAGE_SET_STATE:
	case VCPU_REQUEST__MESSAGE_SET_MSRS:
	case VCPU_REQUEST__MESSAGE_SET_CPUID:
	case VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY:
		ok = false;
		break;
	default:
		break;
	}
	vcpu_request__free_unpacked(req, NULL);
	return ok;
}

static void check_reply(unsigned i)
{
	unsigned rc;
	int r = penv_vcpu_reply(&env, &rc);

	FUZZ_CHECK(r != -EBADMSG && r <= 0, "vCPU %u reply: %d", i, r);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "vcpu %u: case %u error %d\n", i, rc, r);
}

static void drain(void)
{
	penv_pump(&env);
	for (unsigned i = 0; i < PENV_VCPUS; i++)
		while (penv_read(&env, env.vcpu_fd[i]) == 1)
			check_reply(i);
	while (penv_read(&env, env.main_fd) == 1)
		;
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
		if (allowed(data + off, len)) {
			int r = penv_call(&env, env.vcpu_fd[ctl & 1], data + off, len, NULL, 0, 0);

			FUZZ_CHECK(r >= 0, "send: %d", r);
			if (r == 1)
				check_reply(ctl & 1);
			drain();
			settle();
			drain();
		}
		off += len;
		FUZZ_CHECK(!vm_stop_requested(env.vm), "the VM stopped: %s", env.vm->stop.reason);
	}
	nfds = fuzz_count_fds(base_fds);
	if (nfds != base_fds)
		fuzz_dump_fds();
	FUZZ_CHECK(nfds == base_fds, "fd leak: %d open, %d before", nfds, base_fds);
	return 0;
}
