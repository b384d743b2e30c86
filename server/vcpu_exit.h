/* Default handling of KVM exits in the vCPU thread. */
#ifndef VIGIL_VCPU_EXIT_H
#define VIGIL_VCPU_EXIT_H

struct vcpu;

/* Handle vcpu->run's exit. 0: re-enter the guest; -errno: leave the loop
 * (the VM has been asked to stop with the reason). */
int vcpu_exit_handle(struct vcpu *vcpu);

#endif
