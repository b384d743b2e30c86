/* The /dev/kvm handle: API version, capability probing. */
#ifndef VIGIL_KVM_HOST_H
#define VIGIL_KVM_HOST_H

#include <stdbool.h>
#include <stddef.h>

struct kvm_host {
	int fd;
	int vcpu_mmap_size;
	int nr_memslots;          /* KVM_CAP_NR_MEMSLOTS */
	int max_vcpus;            /* KVM_CAP_MAX_VCPUS */
	bool has_user_msr;        /* KVM_CAP_X86_USER_SPACE_MSR + MSR filter */
	bool has_readonly_mem;    /* KVM_CAP_READONLY_MEM */
	bool has_exception_payload;
	bool has_exit_on_emul_fail;
	bool has_guest_debug_blockirq;
};

/*
 * Open the KVM device at @path (NULL: /dev/kvm), check the API version and the
 * capabilities vigild cannot run without. On failure returns -errno and writes
 * one human-readable line (naming what is missing) into @why.
 */
int kvm_host_open(struct kvm_host *kvm, const char *path, char *why, size_t why_len);
void kvm_host_close(struct kvm_host *kvm);
/* KVM_CHECK_EXTENSION on /dev/kvm; returns the value (0 = absent). */
int kvm_host_check(const struct kvm_host *kvm, long cap);

#endif
