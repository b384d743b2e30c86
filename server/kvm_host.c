/* /dev/kvm: open, API version, required and optional capabilities. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_host.h"

struct required_cap {
	long cap;
	const char *name;
};

static const struct required_cap required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
};

int kvm_host_check(const struct kvm_host *kvm, long cap)
{
	int r = ioctl(kvm->fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static void probe_optional(struct kvm_host *kvm)
{
	kvm->nr_memslots = kvm_host_check(kvm, KVM_CAP_NR_MEMSLOTS);
	if (kvm->nr_memslots <= 0)
		kvm->nr_memslots = 32;
	kvm->max_vcpus = kvm_host_check(kvm, KVM_CAP_MAX_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = kvm_host_check(kvm, KVM_CAP_NR_VCPUS);
	kvm->has_user_msr = kvm_host_check(kvm, KVM_CAP_X86_USER_SPACE_MSR) &&
			    kvm_host_check(kvm, KVM_CAP_X86_MSR_FILTER);
	kvm->has_readonly_mem = kvm_host_check(kvm, KVM_CAP_READONLY_MEM);
	kvm->has_exception_payload = kvm_host_check(kvm, KVM_CAP_EXCEPTION_PAYLOAD);
	kvm->has_exit_on_emul_fail =
		kvm_host_check(kvm, KVM_CAP_EXIT_ON_EMULATION_FAILURE);
#ifdef KVM_CAP_SET_GUEST_DEBUG2
	kvm->has_guest_debug_blockirq =
		(kvm_host_check(kvm, KVM_CAP_SET_GUEST_DEBUG2) & KVM_GUESTDBG_BLOCKIRQ) != 0;
#endif
}

int kvm_host_open(struct kvm_host *kvm, const char *path, char *why, size_t why_len)
{
	int version, err;
	size_t i;

	memset(kvm, 0, sizeof(*kvm));
	if (!path)
		path = "/dev/kvm";
	kvm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		err = -errno;
		snprintf(why, why_len, "cannot open %s: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (is the kvm module loaded?)" : "");
		return err;
	}
	version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(why, why_len, "%s: KVM API version %d, need %d", path, version,
			 KVM_API_VERSION);
		kvm_host_close(kvm);
		return -ENOTSUP;
	}
	for (i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (!kvm_host_check(kvm, required_caps[i].cap)) {
			snprintf(why, why_len, "%s lacks required capability %s", path,
				 required_caps[i].name);
			kvm_host_close(kvm);
			return -ENOTSUP;
		}
	}
	kvm->vcpu_mmap_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size <= 0) {
		err = kvm->vcpu_mmap_size < 0 ? -errno : -EINVAL;
		snprintf(why, why_len, "%s: KVM_GET_VCPU_MMAP_SIZE failed", path);
		kvm_host_close(kvm);
		return err;
	}
	probe_optional(kvm);
	return 0;
}

void kvm_host_close(struct kvm_host *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}
