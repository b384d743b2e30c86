/* Sorted range table for port I/O and MMIO handlers run in vCPU threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iobus.h"

int iobus_init(struct iobus *bus)
{
	int err = pthread_rwlock_init(&bus->lock, NULL);

	if (err)
		return -err;
	bus->e = NULL;
	bus->nr = bus->cap = 0;
	return 0;
}

void iobus_fini(struct iobus *bus)
{
	free(bus->e);
	bus->e = NULL;
	bus->nr = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first entry whose end is above @addr. Lock held. */
static unsigned iobus_find(const struct iobus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (bus->e[mid].base + bus->e[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool overlaps_locked(const struct iobus *bus, uint64_t base, uint64_t len)
{
	unsigned i = iobus_find(bus, base);

	return i < bus->nr && bus->e[i].base < base + len;
}

bool iobus_overlaps(struct iobus *bus, uint64_t base, uint64_t len)
{
	bool r;

	pthread_rwlock_rdlock(&bus->lock);
	r = overlaps_locked(bus, base, len);
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, iobus_fn fn, void *opaque)
{
	struct iobus_entry *e;
	unsigned i;
	int err = 0;

	if (!len || base + len < base || !fn)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	if (overlaps_locked(bus, base, len)) {
		err = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;

		e = realloc(bus->e, cap * sizeof(*e));
		if (!e) {
			err = -ENOMEM;
			goto out;
		}
		bus->e = e;
		bus->cap = cap;
	}
	i = iobus_find(bus, base);
	memmove(&bus->e[i + 1], &bus->e[i], (bus->nr - i) * sizeof(*bus->e));
	bus->e[i] = (struct iobus_entry){ base, len, fn, opaque };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

int iobus_unregister(struct iobus *bus, uint64_t base)
{
	unsigned i;
	int err = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = iobus_find(bus, base);
	if (i < bus->nr && bus->e[i].base == base) {
		memmove(&bus->e[i], &bus->e[i + 1], (bus->nr - i - 1) * sizeof(*bus->e));
		bus->nr--;
		err = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

int iobus_dispatch(struct iobus *bus, struct vcpu *vcpu, uint64_t addr,
		   bool is_write, void *data, unsigned len)
{
	struct iobus_entry hit;
	unsigned i;
	bool found = false;

	pthread_rwlock_rdlock(&bus->lock);
	i = iobus_find(bus, addr);
	if (i < bus->nr && bus->e[i].base <= addr) {
		hit = bus->e[i];
		found = true;
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!found)
		return -ENOENT;
	/* The lock is dropped: the handler may block on the reactor. */
	return hit.fn(vcpu, hit.opaque, addr, is_write, data, len);
}
