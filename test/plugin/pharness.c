/* Test-plugin harness (see pharness.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_loader.h"
#include "pharness.h"
#include "x86_setup.h"

void ph_setup(struct ph *h, const char *elf, uint32_t scenario)
{
	struct elf_image img;
	char why[160];
	void *buf;
	size_t len;

	memset(h, 0, sizeof(*h));
	h->scenario = scenario;
	PH_OK(crosvm_connect(&h->cv));
	h->memfd = memfd_create("ph-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	PH_CHECK(h->memfd >= 0, "memfd_create");
	PH_OK(ftruncate(h->memfd, PH_RAM_SIZE));
	PH_OK(fcntl(h->memfd, F_ADD_SEALS, F_SEAL_SHRINK));
	h->ram = mmap(NULL, PH_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, h->memfd, 0);
	PH_CHECK(h->ram != MAP_FAILED, "mmap");
	PH_OK(elf_read_file(elf, 64u << 20, &buf, &len));
	PH_OK(x86_setup_memory(h->ram, PH_RAM_SIZE, VIGIL_GUEST_MAX_VCPUS));
	PH_CHECK(elf_load(buf, len, h->ram, PH_RAM_SIZE, VIGIL_GUEST_LOAD_MIN, &img, why,
			  sizeof(why)) == 0, "elf_load: %s", why);
	free(buf);
	h->entry = img.entry;
	PH_OK(crosvm_create_memory(h->cv, h->memfd, 0, PH_RAM_SIZE, 0, false, false, &h->mem));
	PH_OK(crosvm_reserve_range(h->cv, CROSVM_ADDRESS_SPACE_IOPORT, VIGIL_PORT_UCALL, 4));
	PH_OK(crosvm_reserve_range(h->cv, CROSVM_ADDRESS_SPACE_IOPORT, VIGIL_PORT_EXIT, 4));
	PH_OK(crosvm_reserve_range(h->cv, CROSVM_ADDRESS_SPACE_IOPORT, PH_PORT_SCENARIO, 4));
}

static void set_cpuid(struct ph *h, struct crosvm_vcpu *v, unsigned id)
{
	static struct kvm_cpuid_entry2 e[256];
	uint32_t n = 0;

	PH_OK(crosvm_get_supported_cpuid(h->cv, 256, e, &n));
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].function == 1)
			e[i].ebx = (e[i].ebx & 0x00ffffff) | (id << 24);
		if (e[i].function == 0xb || e[i].function == 0x1f)
			e[i].edx = id;
	}
	PH_OK(crosvm_vcpu_set_cpuid(v, n, e));
}

void ph_init_vcpu(struct ph *h, struct crosvm_vcpu *v, unsigned id, unsigned nr)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sr;
	struct kvm_regs regs;

	set_cpuid(h, v, id);
	PH_OK(crosvm_vcpu_get_sregs(v, &sr));
	x86_sregs_long_mode(&sr, id);
	PH_OK(crosvm_vcpu_set_sregs(v, &sr));
	x86_regs_entry(&regs, id, nr, h->entry);
	PH_OK(crosvm_vcpu_set_regs(v, &regs));
	PH_OK(crosvm_vcpu_set_mp_state(v, &mp));
}

enum ph_kind ph_classify(struct ph *h, const struct crosvm_vcpu_event *ev,
			 struct vigil_ucall **uc)
{
	uint32_t v;

	if (ev->kind != CROSVM_VCPU_EVENT_KIND_IO_ACCESS ||
	    ev->io_access.address_space != CROSVM_ADDRESS_SPACE_IOPORT)
		return PH_OTHER;
	switch (ev->io_access.address) {
	case VIGIL_PORT_UCALL:
		memcpy(&v, ev->io_access.data, 4);
		PH_CHECK(v + sizeof(**uc) <= PH_RAM_SIZE, "ucall at 0x%x outside RAM", v);
		*uc = (struct vigil_ucall *)(h->ram + v);
		return PH_UCALL;
	case VIGIL_PORT_EXIT:
		return PH_EXIT;
	case PH_PORT_SCENARIO:
		memcpy(ev->io_access.data, &h->scenario, 4);
		return PH_SCENARIO;
	default:
		return PH_OTHER;
	}
}

void ph_expect_ucall(struct ph *h, struct crosvm_vcpu *v, unsigned cmd, uint64_t arg)
{
	struct crosvm_vcpu_event ev;
	struct vigil_ucall *uc;

	for (;;) {
		PH_OK(crosvm_vcpu_wait(v, &ev));
		switch (ph_classify(h, &ev, &uc)) {
		case PH_UCALL:
			if (uc->cmd == VIGIL_UCALL_PRINT) {
				fprintf(stderr, "guest: %.*s\n", VIGIL_UCALL_BUF, uc->buf);
				break;
			}
			PH_CHECK(uc->cmd != VIGIL_UCALL_ASSERT, "guest assert: %.*s",
				 VIGIL_UCALL_BUF, uc->buf);
			PH_CHECK(uc->cmd == cmd, "ucall %llu, expected %u", uc->cmd, cmd);
			PH_CHECK(cmd != VIGIL_UCALL_SYNC || uc->args[0] == arg,
				 "sync stage %llu, expected %llu", uc->args[0],
				 (unsigned long long)arg);
			return;
		case PH_EXIT:
			PH_CHECK(0, "guest exited early (status %u)", ev.io_access.data[0]);
			break;
		case PH_SCENARIO:
			break;
		default:
			PH_CHECK(0, "unexpected event kind %u (io at 0x%llx)", ev.kind,
				 (unsigned long long)ev.io_access.address);
			break;
		}
		if (!(ev.kind == CROSVM_VCPU_EVENT_KIND_IO_ACCESS && ev.io_access.no_resume))
			PH_OK(crosvm_vcpu_resume(v));
	}
}

void ph_run_to_done(struct ph *h, struct crosvm_vcpu *v)
{
	ph_expect_ucall(h, v, VIGIL_UCALL_DONE, 0);
	PH_OK(crosvm_vcpu_resume(v));
}
