/*
 * --print-capabilities (see capabilities.h). The probes run in a forked child
 * that reports a struct host_caps through a pipe; the parent waits at most
 * PROBE_TIMEOUT_MS and kills it after that.
 *
 * Every probe VM is the same: 24 KiB of RAM at GPA 0, one vCPU in 64-bit long
 * mode (identity-mapped first 2 MiB, user-accessible; flat segments of the
 * requested privilege level, descriptors only in the segment caches), code at
 * 0x1000. Long mode matters: vigil's guests run there, and on kvm_pvm CPL3
 * code runs natively only with paging on, so a 32-bit probe would report
 * CPL3 single-stepping that real guests do not get. A probe succeeds when the
 * first exit is the one the feature promises.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "capabilities.h"
#include "kvm_host.h"

#define PROBE_TIMEOUT_MS 5000
#define PROBE_RAM        0x6000
#define PROBE_CODE       0x1000
#define PROBE_PML4       0x2000   /* then the PDPT and the PD */
#define PROBE_STACK      0x6000
#define PROBE_RO_GPA     0x8000   /* read-only slot, one page */
#define PROBE_HOLE_GPA   0xa000   /* no slot */
#define PROBE_MSR        0x174    /* IA32_SYSENTER_CS: harmless to write */

struct probe {
	const char *name;
	const uint8_t *code;
	size_t len;
	unsigned cpl;
	uint64_t rip;              /* 0: PROBE_CODE */
	struct kvm_guest_debug dbg;
	bool ro_slot;              /* add the read-only slot */
	bool msr_filter;           /* deny writes to PROBE_MSR */
	bool exit_on_emul_fail;    /* enable KVM_CAP_EXIT_ON_EMULATION_FAILURE */
};

struct probe_vm {
	int vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *ram, *ro;
};

static void probe_vm_fini(struct probe_vm *p)
{
	if (p->run)
		munmap(p->run, p->run_size);
	if (p->ram)
		munmap(p->ram, PROBE_RAM);
	if (p->ro)
		munmap(p->ro, 0x1000);
	if (p->vcpu >= 0)
		close(p->vcpu);
	if (p->vm >= 0)
		close(p->vm);
}

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int add_slot(int vm, uint32_t slot, uint64_t gpa, void *hva, uint64_t size,
		    uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

static int deny_probe_msr(int vm)
{
	static uint8_t deny[1];   /* bit 0 clear: writes to PROBE_MSR exit */
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR, .args = { KVM_MSR_EXIT_REASON_FILTER },
	};
	struct kvm_msr_filter filter = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges = { { .flags = KVM_MSR_FILTER_WRITE, .nmsrs = 1, .base = PROBE_MSR,
			      .bitmap = deny } },
	};

	if (ioctl(vm, KVM_ENABLE_CAP, &cap) < 0 || ioctl(vm, KVM_X86_SET_MSR_FILTER, &filter) < 0)
		return -errno;
	return 0;
}

/* Identity-map the first 2 MiB with one large page, user-accessible. */
static void build_page_tables(uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + PROBE_PML4);
	uint64_t *pdpt = (uint64_t *)(ram + PROBE_PML4 + 0x1000);
	uint64_t *pd = (uint64_t *)(ram + PROBE_PML4 + 0x2000);

	pml4[0] = (PROBE_PML4 + 0x1000) | 0x7;   /* present, writable, user */
	pdpt[0] = (PROBE_PML4 + 0x2000) | 0x7;
	pd[0] = 0x87;                            /* 2 MiB page at 0 */
}

static int probe_vm_init(struct probe_vm *p, const struct kvm_host *kvm,
			 const struct probe *pr)
{
	struct kvm_enable_cap emul = { .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 } };

	memset(p, 0, sizeof(*p));
	p->vm = p->vcpu = -1;
	p->ram = map_anon(PROBE_RAM);
	if (!p->ram)
		return -ENOMEM;
	p->vm = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (p->vm < 0)
		return -errno;
	build_page_tables(p->ram);
	if (add_slot(p->vm, 0, 0, p->ram, PROBE_RAM, 0) < 0)
		return -errno;
	if (pr->ro_slot) {
		p->ro = map_anon(0x1000);
		if (!p->ro || add_slot(p->vm, 1, PROBE_RO_GPA, p->ro, 0x1000, KVM_MEM_READONLY))
			return -EOPNOTSUPP;
	}
	if (pr->msr_filter && deny_probe_msr(p->vm))
		return -EOPNOTSUPP;
	if (pr->exit_on_emul_fail)
		ioctl(p->vm, KVM_ENABLE_CAP, &emul);   /* best effort: absent on kvm_pvm */
	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	if (p->vcpu < 0)
		return -errno;
	p->run_size = (size_t)kvm->vcpu_mmap_size;
	p->run = mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
	if (p->run == MAP_FAILED) {
		p->run = NULL;
		return -errno;
	}
	return 0;
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, unsigned dpl)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->dpl = (uint8_t)dpl;
	s->s = 1;
	s->g = 1;
}

static void long_mode(struct kvm_sregs *sregs, unsigned cpl)
{
	flat_segment(&sregs->cs, cpl ? 0x1b : 0x08, 0xb, cpl);
	sregs->cs.l = 1;
	flat_segment(&sregs->ss, cpl ? 0x23 : 0x10, 0x3, cpl);
	sregs->ss.db = 1;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss;
	memset(&sregs->tr, 0, sizeof(sregs->tr));
	sregs->tr.selector = 0x28;
	sregs->tr.limit = 0x67;
	sregs->tr.type = 11;      /* busy 64-bit TSS */
	sregs->tr.present = 1;
	sregs->ldt.unusable = 1;
	sregs->cr0 = 0x80000011;  /* PG | ET | PE */
	sregs->cr3 = PROBE_PML4;
	sregs->cr4 = 0x20;        /* PAE */
	sregs->efer = 0x500;      /* LMA | LME */
}

static int set_cpu_state(const struct probe_vm *p, const struct probe *pr)
{
	struct kvm_regs regs = { .rip = pr->rip ? pr->rip : PROBE_CODE, .rsp = PROBE_STACK,
				 .rflags = 0x2 };
	struct kvm_sregs sregs;

	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	long_mode(&sregs, pr->cpl);
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0)
		return -errno;
	if (pr->dbg.control && ioctl(p->vcpu, KVM_SET_GUEST_DEBUG, &pr->dbg) < 0)
		return -errno;
	return 0;
}

/*
 * Run @pr once; on success *@run holds the first exit. A probe that cannot run
 * at all leaves its reason in c->why (the first one only). Child process only.
 */
static int probe_run(const struct kvm_host *kvm, const struct probe *pr, struct kvm_run *run,
		     struct host_caps *c)
{
	struct probe_vm p;
	int ret;

	ret = probe_vm_init(&p, kvm, pr);
	if (!ret) {
		memcpy(p.ram + PROBE_CODE, pr->code, pr->len);
		ret = set_cpu_state(&p, pr);
	}
	if (!ret && ioctl(p.vcpu, KVM_RUN, 0) < 0)
		ret = -errno;
	if (!ret)
		memcpy(run, p.run, sizeof(*run));
	if (ret && !c->why[0])
		snprintf(c->why, sizeof(c->why), "a probe VM could not run (%s): %s", pr->name,
			 strerror(-ret));
	probe_vm_fini(&p);
	return ret;
}

static const uint8_t code_nops[] = { 0x90, 0x90, 0xf4 };          /* nop; nop; hlt */
static const uint8_t code_int3[] = { 0xcc, 0xf4 };                /* int3; hlt */
static const uint8_t code_ro_write[] = {                          /* mov byte [0x8000], 0xaa */
	0xc6, 0x04, 0x25, 0x00, 0x80, 0x00, 0x00, 0xaa, 0xf4,
};
static const uint8_t code_wrmsr[] = {                             /* wrmsr(0x174, 0) */
	0xb9, 0x74, 0x01, 0x00, 0x00, 0x31, 0xc0, 0x31, 0xd2, 0x0f, 0x30, 0xf4,
};

static bool probe_step(const struct kvm_host *kvm, unsigned cpl, struct host_caps *c)
{
	struct probe pr = { .name = "single-step", .code = code_nops,
			    .len = sizeof(code_nops), .cpl = cpl,
			    .dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
	struct kvm_run run;

	return !probe_run(kvm, &pr, &run, c) &&
	       run.exit_reason == KVM_EXIT_DEBUG &&
	       run.debug.arch.exception == 1;
}

static bool probe_sw_bp(const struct kvm_host *kvm, struct host_caps *c)
{
	struct probe pr = { .name = "int3", .code = code_int3, .len = sizeof(code_int3),
			    .dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP };
	struct kvm_run run;

	return !probe_run(kvm, &pr, &run, c) &&
	       run.exit_reason == KVM_EXIT_DEBUG &&
	       run.debug.arch.exception == 3;
}

static bool probe_hw_bp(const struct kvm_host *kvm, unsigned cpl, struct host_caps *c)
{
	struct probe pr = { .name = "debug register", .code = code_nops,
			    .len = sizeof(code_nops), .cpl = cpl,
			    .dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP };
	struct kvm_run run;

	pr.dbg.arch.debugreg[0] = PROBE_CODE + 1;   /* the second nop */
	pr.dbg.arch.debugreg[7] = 0x401;            /* L0, execute, 1 byte */
	return !probe_run(kvm, &pr, &run, c) &&
	       run.exit_reason == KVM_EXIT_DEBUG &&
	       run.debug.arch.exception == 1 && run.debug.arch.pc == PROBE_CODE + 1;
}

static bool probe_readonly(const struct kvm_host *kvm, struct host_caps *c)
{
	struct probe pr = { .name = "read-only slot", .code = code_ro_write,
			    .len = sizeof(code_ro_write), .ro_slot = true };
	struct kvm_run run;

	return !probe_run(kvm, &pr, &run, c) &&
	       run.exit_reason == KVM_EXIT_MMIO &&
	       run.mmio.is_write && run.mmio.phys_addr == PROBE_RO_GPA;
}

static bool probe_msr_filter(const struct kvm_host *kvm, struct host_caps *c)
{
	struct probe pr = { .name = "MSR filter", .code = code_wrmsr,
			    .len = sizeof(code_wrmsr), .msr_filter = true };
	struct kvm_run run;

	return !probe_run(kvm, &pr, &run, c) &&
	       run.exit_reason == KVM_EXIT_X86_WRMSR &&
	       run.msr.index == PROBE_MSR;
}

static bool probe_exec_hole(const struct kvm_host *kvm, unsigned cpl, struct host_caps *c)
{
	struct probe pr = { .name = "fetch from a hole", .code = code_nops,
			    .len = sizeof(code_nops), .cpl = cpl,
			    .rip = PROBE_HOLE_GPA, .exit_on_emul_fail = true };
	struct kvm_run run;

	return !probe_run(kvm, &pr, &run, c) &&
	       run.exit_reason == KVM_EXIT_INTERNAL_ERROR &&
	       run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION;
}

/* Child process: every probe, in order. */
static void probe_all(const struct kvm_host *kvm, struct host_caps *c)
{
	c->step_cpl0 = probe_step(kvm, 0, c);
	c->step_cpl3 = probe_step(kvm, 3, c);
	c->sw_breakpoint = probe_sw_bp(kvm, c);
	c->hw_breakpoint = probe_hw_bp(kvm, 0, c);
	c->hw_breakpoint_cpl3 = probe_hw_bp(kvm, 3, c);
	c->readonly_mem = kvm->has_readonly_mem && probe_readonly(kvm, c);
	c->msr_filter = kvm->has_user_msr && probe_msr_filter(kvm, c);
	c->exec_hole_cpl0 = probe_exec_hole(kvm, 0, c);
	c->exec_hole_cpl3 = probe_exec_hole(kvm, 3, c);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly sizeof(*c) from @fd before @deadline; false on timeout or EOF. */
static bool read_result(int fd, struct host_caps *c, int64_t deadline)
{
	size_t got = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (got < sizeof(*c)) {
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		n = read(fd, (char *)c + got, sizeof(*c) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static void probe_in_child(const struct kvm_host *kvm, struct host_caps *caps)
{
	struct host_caps child = *caps;
	int fds[2], status;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(caps->why, sizeof(caps->why), "probes not run: pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		probe_all(kvm, &child);
		_exit(write(fds[1], &child, sizeof(child)) == sizeof(child) ? 0 : 1);
	}
	close(fds[1]);
	if (pid < 0) {
		snprintf(caps->why, sizeof(caps->why), "probes not run: fork: %s", strerror(errno));
	} else if (!read_result(fds[0], &child, now_ms() + PROBE_TIMEOUT_MS)) {
		snprintf(caps->why, sizeof(caps->why), "probe VM did not finish in %d ms",
			 PROBE_TIMEOUT_MS);
		kill(pid, SIGKILL);
	} else {
		*caps = child;
	}
	close(fds[0]);
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
}

void capabilities_probe(struct host_caps *caps, const char *kvm_path)
{
	struct kvm_host kvm;

	memset(caps, 0, sizeof(*caps));
	if (kvm_host_open(&kvm, kvm_path, caps->why, sizeof(caps->why)) < 0)
		return;
	caps->kvm = true;
	caps->exception_payload = kvm.has_exception_payload;
	caps->exit_on_emul_fail = kvm.has_exit_on_emul_fail;
	caps->blockirq = kvm.has_guest_debug_blockirq;
	caps->msi = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING) > 0 &&
		    ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_SIGNAL_MSI) > 0;
	caps->hyperv_synic = ioctl(kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV_SYNIC) > 0;
	probe_in_child(&kvm, caps);
	kvm_host_close(&kvm);
}

#ifdef VIGIL_HAVE_PLUGIN
#define HAVE_PLUGIN true
#else
#define HAVE_PLUGIN false
#endif
#ifdef VIGIL_HAVE_KVMI
#define HAVE_KVMI true
#else
#define HAVE_KVMI false
#endif
#ifdef VIGIL_HAVE_VFIO
#define HAVE_VFIO true
#else
#define HAVE_VFIO false
#endif

struct feature {
	const char *name;
	bool on;
};

/* Fill @f with every feature name and whether it is on; returns the count. */
static size_t features(const struct host_caps *c, struct feature *f)
{
	bool ev = HAVE_KVMI && c->kvm;   /* events need the introspection server */
	size_t n = 0;

#define FEATURE(name_, on_) (f[n++] = (struct feature){ name_, (on_) })
	FEATURE("crosvm-plugin", HAVE_PLUGIN);
	FEATURE("introspection", HAVE_KVMI);
	FEATURE("vfio-user", HAVE_VFIO);
	FEATURE("dma-introspection", HAVE_VFIO && HAVE_KVMI);
	FEATURE("vfio-user-msi", HAVE_VFIO && c->kvm && c->msi);
	FEATURE("plugin-hyperv", HAVE_PLUGIN && c->kvm && c->hyperv_synic);
	FEATURE("kvm", c->kvm);
	FEATURE("event-pause", ev);
	FEATURE("event-hypercall", ev);
	FEATURE("event-trap", ev);
	FEATURE("event-msr", ev && c->msr_filter);
	FEATURE("event-pf-read", ev);
	FEATURE("event-pf-write", ev && c->readonly_mem);
	FEATURE("event-pf-exec", ev && c->exec_hole_cpl0);
	FEATURE("event-cr", ev && c->step_cpl0);
	FEATURE("event-xsetbv", ev && c->step_cpl0);
	FEATURE("event-descriptor", ev && c->step_cpl0);
	FEATURE("event-singlestep", ev && (c->step_cpl0 || c->step_cpl3));
	FEATURE("event-breakpoint", ev && c->hw_breakpoint);
	FEATURE("event-sw-breakpoint", ev && c->sw_breakpoint);
	FEATURE("singlestep-cpl0-only", ev && c->step_cpl0 && !c->step_cpl3);
	FEATURE("breakpoint-cpl0-only", ev && c->hw_breakpoint && !c->hw_breakpoint_cpl3);
	FEATURE("singlestep-blockirq", ev && c->blockirq);
	FEATURE("pf-exec-cpl0-only", ev && c->exec_hole_cpl0 && !c->exec_hole_cpl3);
	FEATURE("pf-exec-allow-imprecise-cpl3", ev && c->exec_hole_cpl3 && !c->step_cpl3);
	FEATURE("inject-exception", ev);
	FEATURE("inject-pf-address", ev && c->exception_payload);
#undef FEATURE
	return n;
}

int capabilities_write(FILE *out, const struct host_caps *caps)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *list = json_object_new_array();
	struct feature f[32];
	size_t n = features(caps, f);
	int ret = 0;

	if (!obj || !list) {
		json_object_put(obj);
		json_object_put(list);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (f[i].on)
			json_object_array_add(list, json_object_new_string(f[i].name));
	}
	json_object_object_add(obj, "type", json_object_new_string(CAPABILITIES_TYPE));
	json_object_object_add(obj, "features", list);
	if (fprintf(out, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
					JSON_C_TO_STRING_SPACED)) < 0 || fflush(out) == EOF)
		ret = -EIO;
	json_object_put(obj);
	return ret;
}

int capabilities_print(FILE *out)
{
	struct host_caps caps;

	capabilities_probe(&caps, NULL);
	return capabilities_write(out, &caps);
}
