/* Standalone guest loading: ELF file -> guest RAM + initial vCPU state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/guest_abi.h>

#include "elf_loader.h"
#include "guest_loader.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"
#include "x86_setup.h"

#define GUEST_FILE_MAX (256u << 20)

int guest_load_elf(struct vm *vm, const char *path, char *why, size_t why_len)
{
	uint64_t low = vm->ram.size < VM_MMIO_HOLE_START ? vm->ram.size : VM_MMIO_HOLE_START;
	struct elf_image img;
	size_t len = 0;
	void *buf;
	unsigned i;
	int err;

	err = elf_read_file(path, GUEST_FILE_MAX, &buf, &len);
	if (err) {
		snprintf(why, why_len, "cannot read %s: %s", path,
			 err == -EFBIG ? "larger than 256 MiB" : strerror(-err));
		return err;
	}
	err = x86_setup_memory(vm->ram.hva, low, vm->nr_vcpus);
	if (err)
		snprintf(why, why_len, "guest memory too small for the boot structures");
	else
		err = elf_load(buf, len, vm->ram.hva, low, VIGIL_GUEST_LOAD_MIN, &img, why, why_len);
	free(buf);
	if (err)
		return err;
	for (i = 0; i < vm->nr_vcpus; i++) {
		err = x86_setup_vcpu(vm->vcpus[i], vm->kvm, img.entry, vm->nr_vcpus);
		if (err) {
			snprintf(why, why_len, "cannot set up vCPU %u: %s", i, strerror(-err));
			return err;
		}
	}
	log_debug("loaded %s: entry 0x%llx, [0x%llx, 0x%llx)", path,
		  (unsigned long long)img.entry, (unsigned long long)img.lo,
		  (unsigned long long)img.hi);
	return 0;
}
