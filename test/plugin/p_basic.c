/*
 * Test plugin written against crosvm.h only (plus the test harness).
 * Usage (as vigild --plugin): p_basic GUEST.elf SCENARIO
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pharness.h"

#define PORT_ADD    0x600
#define PORT_REGS   0x601
#define PORT_ASYNC  0x700
#define PORT_IOEVT  0x710
#define MMIO_DEV    0xd0000000UL
#define IDENT_MAP   0xfeffc000U

#define HV_MSR_SCONTROL     0x40000080
#define HV_MSR_SIEFP        0x40000082
#define HV_MSR_SIMP         0x40000083
#define HVCALL_POST_MESSAGE 0x005c
#define HVCALL_SIGNAL_EVENT 0x005d
#define HV_FAST             (1ULL << 16)

static struct ph h;

static struct crosvm_vcpu *start_vcpu0(void)
{
	struct crosvm_vcpu *v;
	struct crosvm_vcpu_event ev;

	PH_OK(crosvm_start(h.cv));
	PH_OK(crosvm_get_vcpu(h.cv, 0, &v));
	PH_OK(crosvm_vcpu_wait(v, &ev));
	PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_INIT, "first event %u", ev.kind);
	ph_init_vcpu(&h, v, 0, 1);
	PH_OK(crosvm_vcpu_resume(v));
	return v;
}

static struct crosvm_vcpu_event wait_io(struct crosvm_vcpu *v, uint64_t addr)
{
	struct crosvm_vcpu_event ev;
	struct vigil_ucall *uc;

	for (;;) {
		PH_OK(crosvm_vcpu_wait(v, &ev));
		if (ph_classify(&h, &ev, &uc) == PH_SCENARIO) {
			PH_OK(crosvm_vcpu_resume(v));
			continue;
		}
		PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_IO_ACCESS && ev.io_access.address == addr,
			 "event %u at 0x%llx, expected io at 0x%llx", ev.kind,
			 (unsigned long long)ev.io_access.address, (unsigned long long)addr);
		return ev;
	}
}

static int sc_adder(void)
{
	struct crosvm_vcpu_event ev;
	struct crosvm_vcpu *v;
	struct kvm_regs regs;
	uint32_t a, b, sum;

	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, PORT_ADD, 2));
	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_MMIO, MMIO_DEV, 0x1000));
	v = start_vcpu0();
	/* The state is only reachable between wait and resume. */
	PH_CHECK(crosvm_vcpu_get_regs(v, &regs) < 0, "get_regs while running");
	ev = wait_io(v, PORT_ADD);
	PH_CHECK(ev.io_access.is_write && ev.io_access.length == 4, "first write");
	memcpy(&a, ev.io_access.data, 4);
	PH_OK(crosvm_vcpu_resume(v));
	PH_CHECK(crosvm_vcpu_resume(v) == -EINVAL, "double resume");
	ev = wait_io(v, PORT_ADD);
	memcpy(&b, ev.io_access.data, 4);
	PH_OK(crosvm_vcpu_resume(v));
	ev = wait_io(v, PORT_ADD);
	PH_CHECK(!ev.io_access.is_write, "read expected");
	sum = a + b;
	memcpy(ev.io_access.data, &sum, 4);
	PH_OK(crosvm_vcpu_resume(v));
	ev = wait_io(v, PORT_REGS);
	PH_OK(crosvm_vcpu_get_regs(v, &regs));
	PH_CHECK(regs.rbx == 0x1234, "rbx 0x%llx", regs.rbx);
	regs.rbx = 0x5678;
	PH_OK(crosvm_vcpu_set_regs(v, &regs));
	PH_OK(crosvm_vcpu_resume(v));
	ev = wait_io(v, MMIO_DEV);
	PH_CHECK(ev.io_access.address_space == CROSVM_ADDRESS_SPACE_MMIO && !ev.io_access.is_write &&
		 ev.io_access.length == 8, "mmio read");
	uint64_t val = 0x1122334455667788ULL;
	memcpy(ev.io_access.data, &val, 8);
	PH_OK(crosvm_vcpu_resume(v));
	ev = wait_io(v, MMIO_DEV + 8);
	PH_CHECK(ev.io_access.is_write && ev.io_access.length == 4, "mmio write");
	memcpy(&a, ev.io_access.data, 4);
	PH_CHECK(a == 0xcafe, "mmio data 0x%x", a);
	PH_OK(crosvm_vcpu_resume(v));
	ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 1);
	PH_OK(crosvm_vcpu_resume(v));
	ph_run_to_done(&h, v);
	return 0;
}

static int sc_reserve(void)
{
	const uint32_t io = CROSVM_ADDRESS_SPACE_IOPORT, mm = CROSVM_ADDRESS_SPACE_MMIO;

	PH_OK(crosvm_reserve_range(h.cv, io, 0x800, 0x10));
	PH_CHECK(crosvm_reserve_range(h.cv, io, 0x808, 0x10) == -EEXIST, "overlap");
	PH_CHECK(crosvm_reserve_async_write_range(h.cv, io, 0x80f, 1) == -EEXIST, "overlap async");
	PH_CHECK(crosvm_reserve_range(h.cv, io, 0xfff0, 0x20) == -EINVAL, "past 64K ports");
	PH_CHECK(crosvm_reserve_range(h.cv, 7, 0x900, 1) == -EINVAL, "bad space");
	PH_CHECK(crosvm_reserve_range(h.cv, io, 0x900, 0) == -ENOENT, "unreserve unknown");
	PH_OK(crosvm_reserve_range(h.cv, io, 0x800, 0));
	PH_OK(crosvm_reserve_range(h.cv, io, 0x808, 0x10));
	PH_OK(crosvm_reserve_async_write_range(h.cv, mm, 0xe0000000, 0x1000));
	PH_CHECK(crosvm_reserve_range(h.cv, mm, 0xe0000800, 8) == -EEXIST, "mmio overlap");
	PH_OK(crosvm_reserve_async_write_range(h.cv, mm, 0xe0000000, 0));
	PH_OK(crosvm_reserve_range(h.cv, mm, 0xe0000800, 8));
	return 0;
}

static int sc_async(void)
{
	struct crosvm_vcpu_event ev;
	struct crosvm_vcpu *v;

	PH_OK(crosvm_reserve_async_write_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, PORT_ASYNC, 4));
	v = start_vcpu0();
	for (uint32_t i = 0; i < 10; i++) {
		uint32_t d;

		ev = wait_io(v, PORT_ASYNC);
		PH_CHECK(ev.io_access.is_write && ev.io_access.no_resume, "async write %u", i);
		memcpy(&d, ev.io_access.data, 4);
		PH_CHECK(d == i, "async data %u, expected %u", d, i);
		PH_CHECK(crosvm_vcpu_resume(v) == -EINVAL, "resume after async");
	}
	ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 2);
	PH_OK(crosvm_vcpu_resume(v));
	ph_run_to_done(&h, v);
	return 0;
}

static int sc_ioevent(void)
{
	uint32_t match = 42;
	struct crosvm_io *io, *bad = NULL;
	struct crosvm_vcpu *v;
	uint64_t cnt = 0;

	PH_CHECK(crosvm_create_io_event(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, PORT_IOEVT, 3,
					(uint8_t *)&match, &bad) == -EINVAL, "length 3");
	PH_OK(crosvm_create_io_event(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, PORT_IOEVT, 4,
				     (uint8_t *)&match, &io));
	PH_CHECK(crosvm_io_event_fd(io) >= 0, "fd");
	v = start_vcpu0();
	ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 3);
	PH_CHECK(read(crosvm_io_event_fd(io), &cnt, 8) == 8 && cnt == 1, "count %llu",
		 (unsigned long long)cnt);
	PH_OK(crosvm_destroy_io_event(h.cv, &io));
	PH_CHECK(io == NULL, "destroy NULLs");
	PH_OK(crosvm_vcpu_resume(v));
	ph_run_to_done(&h, v);
	return 0;
}

static int sc_dirty(void)
{
	const uint64_t len = 0x10000;
	struct crosvm_memory *m2, *bad;
	struct crosvm_vcpu *v;
	uint8_t log[2], *p;
	int fd, nofd;

	fd = memfd_create("m2", MFD_ALLOW_SEALING);
	PH_OK(ftruncate(fd, len));
	nofd = memfd_create("noseal", 0);
	PH_OK(ftruncate(nofd, len));
	PH_CHECK(crosvm_create_memory(h.cv, nofd, 0, len, 0x800000, false, true, &bad) == -EINVAL,
		 "no shrink seal");
	PH_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	PH_CHECK(crosvm_create_memory(h.cv, fd, 0, len, 0x1000, false, true, &bad) == -EEXIST,
		 "overlap with RAM");
	PH_CHECK(crosvm_create_memory(h.cv, fd, 0x1000, len, 0x800000, false, true, &bad) == -EINVAL,
		 "memfd too small");
	PH_CHECK(crosvm_create_memory(h.cv, fd, 0, len, 0x800001, false, true, &bad) == -EINVAL,
		 "unaligned");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p[0] = 0xab;
	PH_OK(crosvm_create_memory(h.cv, fd, 0, len, 0x800000, false, true, &m2));
	PH_OK(crosvm_memory_get_dirty_log(h.cv, m2, log));   /* clear */
	v = start_vcpu0();
	ph_expect_ucall(&h, v, VIGIL_UCALL_SYNC, 4);
	PH_OK(crosvm_memory_get_dirty_log(h.cv, m2, log));
	/* Pages 3 and 5 were written and must be reported; page 0 was only read,
	 * and KVM may report it too (kvm_amd does: dirty logs may over-report,
	 * never under-report); pages never touched must stay clean. */
	PH_CHECK((log[0] & 0x28) == 0x28 && (log[0] & ~0x29) == 0 && log[1] == 0,
		 "dirty bitmap %02x %02x", log[0], log[1]);
	PH_CHECK(p[0x3000] == 1 && p[0x5000] == 1, "guest writes visible in the memfd");
	PH_CHECK(crosvm_memory_get_dirty_log(h.cv, h.mem, log) == -EINVAL, "no dirty log on RAM");
	PH_OK(crosvm_destroy_memory(h.cv, &m2));
	PH_CHECK(m2 == NULL, "destroy NULLs");
	PH_OK(crosvm_vcpu_resume(v));
	ph_run_to_done(&h, v);
	return 0;
}

static int sc_pause(void)
{
	struct crosvm_vcpu_event ev;
	struct crosvm_vcpu *v;
	struct vigil_ucall *uc;
	int seen = 0;

	v = start_vcpu0();
	PH_OK(crosvm_pause_vcpus(h.cv, 1, (void *)0x1111));
	while (seen < 3) {
		PH_OK(crosvm_vcpu_wait(v, &ev));
		if (ev.kind == CROSVM_VCPU_EVENT_KIND_PAUSED) {
			uintptr_t want = seen == 0 ? 0x1111 : seen == 1 ? 0x2222 : 0x3333;

			PH_CHECK((uintptr_t)ev.user == want, "user %p, want %#lx", ev.user,
				 (unsigned long)want);
			if (seen == 0) {
				/* Pause again while already paused: delivered after resume. */
				PH_OK(crosvm_pause_vcpus(h.cv, 1, (void *)0x2222));
				PH_OK(crosvm_pause_vcpus(h.cv, 1, (void *)0x3333));
			}
			seen++;
		} else {
			PH_CHECK(ph_classify(&h, &ev, &uc) != PH_UCALL, "unexpected ucall");
		}
		PH_OK(crosvm_vcpu_resume(v));
	}
	return 0;
}

static int sc_queries(void)
{
	struct kvm_cpuid_entry2 e[256];
	uint32_t msrs[1024], n = 0, n2 = 0;
	struct crosvm_vcpu *v;
	bool has;

	PH_CHECK(crosvm_get_supported_cpuid(h.cv, 1, e, &n) == -E2BIG && n > 1, "small cpuid: %u",
		 n);
	PH_OK(crosvm_get_supported_cpuid(h.cv, n, e, &n2));
	PH_CHECK(n2 == n && e[0].function == 0, "cpuid count %u/%u", n2, n);
	n = 0;
	PH_CHECK(crosvm_get_emulated_cpuid(h.cv, 0, NULL, &n) == -E2BIG && n > 0, "emulated %u", n);
	n = 0;
	PH_CHECK(crosvm_get_msr_index_list(h.cv, 1, msrs, &n) == -E2BIG && n > 1, "msr list %u", n);
	PH_OK(crosvm_get_msr_index_list(h.cv, 1024, msrs, &n2));
	PH_CHECK(n2 == n, "msr count");
	PH_OK(crosvm_check_extension(h.cv, KVM_CAP_IRQCHIP, &has));
	PH_CHECK(has, "irqchip");
	PH_OK(crosvm_check_extension(h.cv, 0xfffffff, &has));
	PH_CHECK(!has, "bogus cap");
	PH_CHECK(crosvm_enable_capability(h.cv, KVM_CAP_IRQCHIP, 0, NULL) == -EINVAL, "vm cap");
	PH_CHECK(crosvm_get_vcpu(h.cv, 1, &v) == -ENOENT, "vcpu past the last");
	PH_OK(crosvm_get_vcpu(h.cv, 0, &v));
	struct crosvm_net_config nc;
	PH_CHECK(crosvm_net_get_config(h.cv, &nc) == -ENODATA, "no net config");
	return 0;
}

static int sc_vmstate(void)
{
	struct kvm_pic_state pic, pic2;
	struct kvm_ioapic_state io, io2;
	struct kvm_pit_state2 pit, pit2;
	struct kvm_clock_data clk;

	PH_OK(crosvm_get_pic_state(h.cv, true, &pic));
	pic.imr = 0xa5;
	PH_OK(crosvm_set_pic_state(h.cv, true, &pic));
	PH_OK(crosvm_get_pic_state(h.cv, true, &pic2));
	PH_CHECK(pic2.imr == 0xa5, "pic imr %x", pic2.imr);
	PH_OK(crosvm_get_pic_state(h.cv, false, &pic));
	PH_OK(crosvm_get_ioapic_state(h.cv, &io));
	io.redirtbl[3].bits = 0x10000 | 0x40;
	PH_OK(crosvm_set_ioapic_state(h.cv, &io));
	PH_OK(crosvm_get_ioapic_state(h.cv, &io2));
	PH_CHECK(io2.redirtbl[3].bits == io.redirtbl[3].bits, "ioapic");
	PH_OK(crosvm_get_pit_state(h.cv, &pit));
	PH_OK(crosvm_set_pit_state(h.cv, &pit));
	PH_OK(crosvm_get_pit_state(h.cv, &pit2));
	PH_CHECK(pit2.channels[0].mode == pit.channels[0].mode, "pit");
	PH_OK(crosvm_get_clock(h.cv, &clk));
	clk.clock += 1000000000ULL;
	PH_OK(crosvm_set_clock(h.cv, &clk));
	uint64_t before = clk.clock;
	PH_OK(crosvm_get_clock(h.cv, &clk));
	PH_CHECK(clk.clock >= before, "clock went back");
	PH_OK(crosvm_set_irq(h.cv, 4, true));
	PH_OK(crosvm_set_irq(h.cv, 4, false));
	struct crosvm_irq_route r[2] = {
		{ .irq_id = 1, .kind = CROSVM_IRQ_ROUTE_IRQCHIP, .irqchip = { KVM_IRQCHIP_IOAPIC, 1 } },
		{ .irq_id = 30, .kind = CROSVM_IRQ_ROUTE_MSI, .msi = { .address = 0xfee00000, .data = 0x30 } },
	};
	PH_OK(crosvm_set_irq_routing(h.cv, 2, r));
	r[0].kind = 9;
	PH_CHECK(crosvm_set_irq_routing(h.cv, 2, r) == -EINVAL, "bad route kind");
	struct crosvm_irq *irq;
	PH_OK(crosvm_create_irq_event(h.cv, 5, &irq));
	PH_CHECK(crosvm_irq_event_get_fd(irq) >= 0 && crosvm_irq_event_get_resample_fd(irq) >= 0,
		 "irq fds");
	PH_OK(crosvm_destroy_irq_event(h.cv, &irq));
	PH_CHECK(irq == NULL, "irq NULL");
	return 0;
}

/* Set the identity map before the vCPUs exist; once they do, KVM refuses it
 * (EINVAL, as crosvm passes it on). A pause requested before Start is queued
 * and delivered after Init. */
static int sc_identmap(void)
{
	struct kvm_cpuid_entry2 hv[64];
	struct crosvm_vcpu_event ev;
	struct crosvm_vcpu *v;
	bool has_hv = false, sys_hv = false;
	uint32_t nh = 0;
	int r;

	/* A Hyper-V CPUID query before Start (answered or refused: kvm_pvm has
	 * no Hyper-V) must not create the vCPUs, except on a KVM too old to
	 * answer it without one. */
	PH_OK(crosvm_check_extension(h.cv, KVM_CAP_HYPERV, &has_hv));
	PH_OK(crosvm_check_extension(h.cv, KVM_CAP_SYS_HYPERV_CPUID, &sys_hv));
	PH_OK(crosvm_get_vcpu(h.cv, 0, &v));
	if (!has_hv || sys_hv) {
		r = crosvm_get_hyperv_cpuid(v, 64, hv, &nh);
		PH_CHECK(has_hv ? r == 0 : r < 0, "hyperv cpuid before Start: %d", r);
	}
	PH_OK(crosvm_set_identity_map_addr(h.cv, IDENT_MAP));
	PH_OK(crosvm_pause_vcpus(h.cv, 1, (void *)0x4444));
	v = start_vcpu0();
	PH_OK(crosvm_vcpu_wait(v, &ev));
	PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_PAUSED && (uintptr_t)ev.user == 0x4444,
		 "event %u, expected the pause asked for before Start", ev.kind);
	PH_CHECK(crosvm_set_identity_map_addr(h.cv, IDENT_MAP) == -EINVAL,
		 "identity map accepted after Start");
	PH_OK(crosvm_vcpu_resume(v));
	ph_run_to_done(&h, v);
	return 0;
}

/* The next event that is not the scenario read or a guest print. */
static struct crosvm_vcpu_event next_event(struct crosvm_vcpu *v, struct vigil_ucall **uc)
{
	struct crosvm_vcpu_event ev;

	for (;;) {
		PH_OK(crosvm_vcpu_wait(v, &ev));
		switch (ph_classify(&h, &ev, uc)) {
		case PH_SCENARIO:
			PH_OK(crosvm_vcpu_resume(v));
			continue;
		case PH_UCALL:
			PH_CHECK((*uc)->cmd != VIGIL_UCALL_ASSERT, "guest assert: %.*s",
				 VIGIL_UCALL_BUF, (*uc)->buf);
			break;
		default:
			break;
		}
		return ev;
	}
}

static void expect_sync(struct crosvm_vcpu *v, uint64_t stage, uint64_t *arg1)
{
	struct vigil_ucall *uc = NULL;
	struct crosvm_vcpu_event ev = next_event(v, &uc);

	PH_CHECK(uc && uc->cmd == VIGIL_UCALL_SYNC && uc->args[0] == stage,
		 "event %u, expected sync %llu", ev.kind, (unsigned long long)stage);
	if (arg1)
		*arg1 = uc->args[1];
	PH_OK(crosvm_vcpu_resume(v));
}

static void expect_synic(struct crosvm_vcpu *v, uint32_t msr, uint64_t evt, uint64_t msg)
{
	struct vigil_ucall *uc;
	struct crosvm_vcpu_event ev = next_event(v, &uc);

	PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC, "event %u, expected SynIC",
		 ev.kind);
	PH_CHECK(ev.hyperv_synic.msr == msr && ev.hyperv_synic.control == 1 &&
		 ev.hyperv_synic.evt_page == evt && ev.hyperv_synic.msg_page == msg,
		 "synic msr %#x control %#llx evt %#llx msg %#llx", ev.hyperv_synic.msr,
		 (unsigned long long)ev.hyperv_synic.control,
		 (unsigned long long)ev.hyperv_synic.evt_page,
		 (unsigned long long)ev.hyperv_synic.msg_page);
	PH_OK(crosvm_vcpu_resume(v));
}

static struct crosvm_vcpu_event expect_hcall(struct crosvm_vcpu *v, uint64_t input,
					     uint64_t param0)
{
	struct vigil_ucall *uc;
	struct crosvm_vcpu_event ev = next_event(v, &uc);

	PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL, "event %u, expected hcall",
		 ev.kind);
	PH_CHECK(ev.hyperv_call.input == input && ev.hyperv_call.params[0] == param0 &&
		 ev.hyperv_call.params[1] == 0 && ev.hyperv_call.result &&
		 *ev.hyperv_call.result == 0,
		 "hcall input %#llx params %#llx %#llx", (unsigned long long)ev.hyperv_call.input,
		 (unsigned long long)ev.hyperv_call.params[0],
		 (unsigned long long)ev.hyperv_call.params[1]);
	return ev;
}

/* Standard CPUID with KVM's own 0x400000xx leaves replaced by Hyper-V's. */
static void set_hyperv_cpuid(struct crosvm_vcpu *v)
{
	static struct kvm_cpuid_entry2 e[256 + 64];
	uint32_t n = 0, nh = 0, m = 0;

	PH_OK(crosvm_get_supported_cpuid(h.cv, 256, e, &n));
	for (uint32_t i = 0; i < n; i++)
		if ((e[i].function & 0xffffff00) != 0x40000000)
			e[m++] = e[i];
	PH_OK(crosvm_get_hyperv_cpuid(v, 64, e + m, &nh));
	PH_OK(crosvm_vcpu_set_cpuid(v, m + nh, e));
}

static int sc_hyperv(void)
{
	struct kvm_cpuid_entry2 hv[64];
	struct crosvm_vcpu_event ev;
	struct crosvm_vcpu *v;
	uint64_t args[4] = { 0 }, pages = 0;
	uint32_t nh = 0;

	PH_OK(crosvm_get_vcpu(h.cv, 0, &v));
	PH_OK(crosvm_get_hyperv_cpuid(v, 64, hv, &nh));   /* allowed before Start */
	PH_CHECK(nh > 0, "no Hyper-V CPUID leaves");
	PH_OK(crosvm_start(h.cv));
	PH_OK(crosvm_vcpu_wait(v, &ev));
	PH_CHECK(ev.kind == CROSVM_VCPU_EVENT_KIND_INIT, "first event %u", ev.kind);
	ph_init_vcpu(&h, v, 0, 1);
	set_hyperv_cpuid(v);
	PH_OK(crosvm_vcpu_enable_capability(v, KVM_CAP_HYPERV_SYNIC, 0, args));
	PH_OK(crosvm_vcpu_resume(v));
	expect_sync(v, 6, &pages);
	expect_synic(v, HV_MSR_SCONTROL, 0, 0);
	expect_synic(v, HV_MSR_SIEFP, (pages + 0x1000) | 1, 0);
	expect_synic(v, HV_MSR_SIMP, (pages + 0x1000) | 1, (pages + 0x2000) | 1);
	expect_sync(v, 7, NULL);
	ev = expect_hcall(v, HVCALL_POST_MESSAGE, pages + 0x3000);
	*ev.hyperv_call.result = 0x1122334455667788ULL;
	PH_OK(crosvm_vcpu_resume(v));
	expect_hcall(v, HVCALL_SIGNAL_EVENT | HV_FAST, 5);
	PH_OK(crosvm_vcpu_resume(v));   /* result left at 0 */
	expect_sync(v, 8, NULL);
	ph_run_to_done(&h, v);
	return 0;
}

static void *second_conn(void *arg)
{
	struct crosvm *c2 = arg;

	for (int i = 0; i < 50; i++)
		if (crosvm_reserve_range(c2, CROSVM_ADDRESS_SPACE_IOPORT, 0x900 + i, 1) < 0)
			return (void *)1;
	return NULL;
}

static int sc_conn2(void)
{
	struct crosvm *c2;
	pthread_t t;
	void *ret;
	int sfd;
	uint64_t x;

	PH_OK(crosvm_new_connection(h.cv, &c2));
	PH_OK(pthread_create(&t, NULL, second_conn, c2));
	for (int i = 0; i < 50; i++)
		PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0xa00 + i, 1));
	pthread_join(t, &ret);
	PH_CHECK(ret == NULL, "second connection failed");
	PH_CHECK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0x910, 1) == -EEXIST,
		 "state shared across connections");
	sfd = crosvm_get_shutdown_eventfd(c2);
	PH_CHECK(sfd >= 0, "shutdown fd");
	PH_OK(fcntl(sfd, F_SETFL, O_NONBLOCK));
	PH_CHECK(read(sfd, &x, 8) < 0 && errno == EAGAIN, "shutdown signalled early");
	close(sfd);
	PH_OK(crosvm_destroy_connection(&c2));
	PH_CHECK(c2 == NULL, "destroyed connection NULL");
	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0xb00, 1));
	return 0;
}

static int sc_crash(void)
{
	struct crosvm_vcpu *v = start_vcpu0();
	struct crosvm_vcpu_event ev;

	/* Stop the vCPU on an event and die without resuming it. */
	PH_OK(crosvm_vcpu_wait(v, &ev));
	raise(SIGKILL);
	return 1;
}

static int sc_malformed(void)
{
	int fd = atoi(getenv("CROSVM_SOCKET"));
	struct crosvm_vcpu *v;
	uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x08 }, resp[256];

	/* Raw junk on the main socket: an error reply, the session goes on. */
	PH_CHECK(send(fd, junk, sizeof(junk), 0) == sizeof(junk), "send");
	PH_CHECK(recv(fd, resp, sizeof(resp), 0) > 0, "reply to junk");
	PH_CHECK(send(fd, "", 0, 0) == 0, "send empty");
	PH_CHECK(recv(fd, resp, sizeof(resp), 0) > 0, "reply to empty packet");
	/* Unknown object, missing fd. */
	struct crosvm_io *io = calloc(1, 64);
	PH_CHECK(crosvm_destroy_io_event(h.cv, &io) == -ENOENT, "unknown id");
	/* The per-vCPU socket too. */
	PH_OK(crosvm_get_vcpu(h.cv, 0, &v));
	int vfd = *(int *)v;   /* first member of the client's vcpu: its socket */
	PH_CHECK(send(vfd, junk, sizeof(junk), 0) == sizeof(junk), "send vcpu");
	PH_CHECK(recv(vfd, resp, sizeof(resp), 0) > 0, "vcpu reply to junk");
	struct kvm_regs regs;
	PH_CHECK(crosvm_vcpu_get_regs(v, &regs) == -EBUSY, "regs before any event");
	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, 0x900, 1));
	return 0;
}

/* A raw VcpuResponse: its oneof member's field number and its error. */
static unsigned resp_case(const uint8_t *b, ssize_t n, int *err)
{
	ssize_t i = 0;
	uint32_t zz = 0;

	*err = 0;
	if (n > 0 && b[0] == 0x08) {            /* error, sint32 */
		for (i = 1; i < n && i < 6; i++) {
			zz |= (uint32_t)(b[i] & 0x7f) << (7 * (i - 1));
			if (!(b[i] & 0x80))
				break;
		}
		*err = (int)(zz >> 1) ^ -(int)(zz & 1);
		i++;
	}
	return i < n ? b[i] >> 3 : 0;
}

/*
 * Requests pipelined behind a Resume are answered in order. vigild reads
 * the request after a good Resume before it replies to the Resume (so that
 * it has the next Wait before the plugin runs again); the Resume's reply must
 * still come first.
 */
static int sc_pipeline(void)
{
	static const uint8_t resume[] = { 0x12, 0x00 };   /* VcpuRequest{resume{}} */
	static const uint8_t regs[] = { 0x1a, 0x00 };     /* VcpuRequest{get_state{REGS}} */
	static const uint8_t wait[] = { 0x0a, 0x00 };     /* VcpuRequest{wait{}} */
	static const struct { unsigned field; int err; } want[] = {
		{ 3, 0 }, { 3, -EINVAL }, { 4, -EBUSY }, { 2, 0 },
	};
	const uint8_t *req[] = { resume, resume, regs, wait };
	struct crosvm_vcpu *v;
	uint8_t resp[1024];
	int vfd, err;

	PH_OK(crosvm_reserve_range(h.cv, CROSVM_ADDRESS_SPACE_IOPORT, PORT_ADD, 1));
	v = start_vcpu0();
	wait_io(v, PORT_ADD);           /* stopped on the guest's first write */
	vfd = *(int *)v;                /* first member of the client's vcpu: its socket */
	for (unsigned i = 0; i < 4; i++)
		PH_CHECK(send(vfd, req[i], 2, 0) == 2, "send request %u", i);
	for (unsigned i = 0; i < 4; i++) {
		ssize_t n = recv(vfd, resp, sizeof(resp), 0);
		unsigned f = resp_case(resp, n, &err);

		PH_CHECK(f == want[i].field && err == want[i].err,
			 "reply %u: member %u error %d, expected member %u error %d", i, f, err,
			 want[i].field, want[i].err);
	}
	return 0;   /* the VM stops with the plugin's status */
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int (*fn)(void); } sc[] = {
		{ "adder", sc_adder }, { "reserve", sc_reserve }, { "async", sc_async },
		{ "ioevent", sc_ioevent }, { "dirty", sc_dirty }, { "pause", sc_pause },
		{ "queries", sc_queries }, { "vmstate", sc_vmstate }, { "conn2", sc_conn2 },
		{ "crash", sc_crash }, { "malformed", sc_malformed }, { "identmap", sc_identmap },
		{ "hyperv", sc_hyperv }, { "pipeline", sc_pipeline },
	};
	static const uint32_t guest_sc[] = { 1, 0, 2, 3, 4, 5, 0, 0, 0, 5, 0, 0, 6, 1 };

	PH_CHECK(argc == 3, "usage: p_basic GUEST.elf SCENARIO");
	for (unsigned i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		if (strcmp(argv[2], sc[i].name))
			continue;
		ph_setup(&h, argv[1], guest_sc[i]);
		return sc[i].fn();
	}
	PH_CHECK(0, "unknown scenario %s", argv[2]);
	return 2;
}
