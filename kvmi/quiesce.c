/*
 * Quiescing the vCPUs around memslot changes.
 *
 * KVM cannot split or resize a slot in place: the manager deletes and re-adds
 * slots, and for that moment the range has no slot. A data access there comes
 * back as MMIO (the core emulates it), but a page-table walk or an instruction
 * fetch into the gap faults inside the guest. So before changing slots the
 * reactor asks every vCPU to stop at its next pre-run point and waits until
 * each one is stopped there, waiting on the reactor (VCPU_PARKED) or gone.
 */
#include <errno.h>
#include <time.h>

#include "kvmi_int.h"
#include "log.h"
#include "monotonic.h"

#define QUIESCE_TIMEOUT_MS 2000
#define QUIESCE_SLICE_MS   5

static bool vcpu_quiet(struct kvmi_vcpu *kv)
{
	int st = atomic_load(&kv->vcpu->state);

	/* Waiting for an event answer (in_event), on the reactor (PARKED) or on
	 * a device server (in_device_call), the thread must pass
	 * kvmi_quiesce_point before it can enter the guest. */
	return kv->q_parked || st != VCPU_RUNNING ||
	       __atomic_load_n(&kv->in_event, __ATOMIC_ACQUIRE) ||
	       atomic_load(&kv->vcpu->in_device_call);
}

int kvmi_quiesce_begin(struct kvmi *k)
{
	struct timespec end, slice;
	unsigned i;
	int r = 0;

	pthread_mutex_lock(&k->q_lock);
	k->q_active = true;
	pthread_mutex_unlock(&k->q_lock);
	for (i = 0; i < k->nr_vcpus; i++)
		vcpu_request(k->vcpus[i].vcpu, VCPU_REQ_HOOK);
	deadline_after_ms(&end, QUIESCE_TIMEOUT_MS);
	pthread_mutex_lock(&k->q_lock);
	/* Parking at the quiesce point signals q_cond; entering a device call
	 * does not (the core knows nothing of kvmi), hence the short slices. */
	for (i = 0; i < k->nr_vcpus && r == 0; i++) {
		while (!vcpu_quiet(&k->vcpus[i]) && r == 0) {
			deadline_after_ms(&slice, QUIESCE_SLICE_MS);
			if (pthread_cond_timedwait(&k->q_cond, &k->q_lock, &slice) == ETIMEDOUT &&
			    (slice.tv_sec > end.tv_sec ||
			     (slice.tv_sec == end.tv_sec && slice.tv_nsec >= end.tv_nsec)))
				r = -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&k->q_lock);
	if (r) {
		log_warn("kvmi: vCPUs did not stop for a memslot change");
		kvmi_quiesce_end(k);
		return -EBUSY;
	}
	return 0;
}

void kvmi_quiesce_end(struct kvmi *k)
{
	pthread_mutex_lock(&k->q_lock);
	k->q_active = false;
	pthread_cond_broadcast(&k->q_cond);
	pthread_mutex_unlock(&k->q_lock);
}

/* vCPU thread, before KVM_RUN: stop here while the reactor changes slots. */
void kvmi_quiesce_point(struct kvmi_vcpu *kv)
{
	struct kvmi *k = kv->k;

	if (!__atomic_load_n(&k->q_active, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&k->q_lock);
	kv->q_parked = true;
	pthread_cond_broadcast(&k->q_cond);
	while (k->q_active && !waiter_is_cancelled(&kv->vcpu->waiter))
		pthread_cond_wait(&k->q_cond, &k->q_lock);
	kv->q_parked = false;
	pthread_mutex_unlock(&k->q_lock);
}
