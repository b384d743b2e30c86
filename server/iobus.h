/*
 * Port-I/O and MMIO dispatch for exits the vCPU thread handles itself.
 *
 * Ranges are registered with a handler that runs in the vCPU thread. The bus
 * lock is not held while a handler runs (a handler may block on the reactor),
 * so the handler's @opaque must stay valid until every vCPU thread is joined.
 */
#ifndef VIGIL_IOBUS_H
#define VIGIL_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vcpu;

/* Return 0 when handled (for reads, @data filled), -errno on a fatal error. */
typedef int (*iobus_fn)(struct vcpu *vcpu, void *opaque, uint64_t addr,
			bool is_write, void *data, unsigned len);

struct iobus_entry {
	uint64_t base, len;
	iobus_fn fn;
	void *opaque;
};

struct iobus {
	pthread_rwlock_t lock;
	struct iobus_entry *e;   /* sorted by base, non-overlapping */
	unsigned nr, cap;
};

int iobus_init(struct iobus *bus);
void iobus_fini(struct iobus *bus);
/* -EEXIST if the range overlaps an existing one, -EINVAL for len 0/overflow. */
int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, iobus_fn fn, void *opaque);
/* Remove the range starting at @base. -ENOENT if none. */
int iobus_unregister(struct iobus *bus, uint64_t base);
/* Find the handler covering [addr, addr+len) and call it. -ENOENT if none. */
int iobus_dispatch(struct iobus *bus, struct vcpu *vcpu, uint64_t addr,
		   bool is_write, void *data, unsigned len);
/* True if any registered range overlaps [base, base+len). */
bool iobus_overlaps(struct iobus *bus, uint64_t base, uint64_t len);

#endif
