/*
 * vigild --print-capabilities: what this build and this host support, as the
 * JSON object of QEMU's vhost-user backend capabilities schema:
 *
 *   { "type": "vmm", "features": [ "crosvm-plugin", "kvm", "event-msr", ... ] }
 *
 * Build features come from the subsystems compiled into vigild; host features
 * from /dev/kvm, checked with KVM_CHECK_EXTENSION and, where capabilities lie
 * or do not exist (debug features on x86), by trying: each probe runs a few
 * instructions in a throw-away VM inside a child process with a time limit,
 * so a misbehaving host can neither hang nor disturb the caller.
 * The feature names are documented in contrib/README.md.
 */
#ifndef VIGIL_CAPABILITIES_H
#define VIGIL_CAPABILITIES_H

#include <stdbool.h>
#include <stdio.h>

/* The descriptor and capabilities "type" of vigild. */
#define CAPABILITIES_TYPE "vmm"

/* Probe results; every member false when /dev/kvm is unusable. */
struct host_caps {
	bool kvm;                /* /dev/kvm opened with API 12 and vigild's required caps */
	char why[192];           /* if !kvm, or a probe failed to run: one line why */
	bool msr_filter;         /* a denied WRMSR exited as KVM_EXIT_X86_WRMSR */
	bool readonly_mem;       /* a write to a KVM_MEM_READONLY slot exited as MMIO */
	bool exec_hole_cpl0;     /* a fetch from a page without slot exited, at CPL0 */
	bool exec_hole_cpl3;     /* ... and at CPL3 */
	bool step_cpl0;          /* KVM_GUESTDBG_SINGLESTEP stops at CPL0 */
	bool step_cpl3;          /* ... and at CPL3 */
	bool hw_breakpoint;      /* a DR0 execute breakpoint exited as KVM_EXIT_DEBUG */
	bool hw_breakpoint_cpl3; /* ... at CPL3 */
	bool sw_breakpoint;      /* int3 exited as KVM_EXIT_DEBUG (KVM_GUESTDBG_USE_SW_BP) */
	bool exception_payload;  /* KVM_CAP_EXCEPTION_PAYLOAD: #PF injection sets CR2 */
	bool exit_on_emul_fail;  /* KVM_CAP_EXIT_ON_EMULATION_FAILURE */
	bool blockirq;           /* KVM_GUESTDBG_BLOCKIRQ: stepping without interrupts */
	bool msi;                /* KVM_CAP_IRQ_ROUTING and KVM_CAP_SIGNAL_MSI */
	bool hyperv_synic;       /* KVM_CAP_HYPERV_SYNIC: Hyper-V exits can happen */
};

/*
 * Probe the KVM device at @kvm_path (NULL: /dev/kvm). Never fails: what cannot
 * be established is reported absent, with the reason in caps->why.
 * Takes a few tens of milliseconds (one short-lived VM per probe).
 */
void capabilities_probe(struct host_caps *caps, const char *kvm_path);

/*
 * Write the capabilities JSON for @caps and this build to @out, followed by a
 * newline. Returns 0 or -EIO / -ENOMEM.
 */
int capabilities_write(FILE *out, const struct host_caps *caps);

/* Probe /dev/kvm and write the JSON to @out: what --print-capabilities does. */
int capabilities_print(FILE *out);

#endif
