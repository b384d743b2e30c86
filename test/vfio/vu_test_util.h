/* Helpers for the vfio-user suites: run vu-dma, fake guest memory. */
#ifndef VIGIL_VU_TEST_UTIL_H
#define VIGIL_VU_TEST_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include "vu_client.h"

struct vu_srv {
	pid_t pid;
	char path[108];
};

/* Start vu-dma listening on a fresh socket path (mode/caps may be NULL). */
int vu_srv_start(struct vu_srv *s, const char *mode, const char *caps);
/* Same, with vu-dma --irq=@irq (intx, msi, msix, ...; NULL: intx). */
int vu_srv_start_irq(struct vu_srv *s, const char *mode, const char *caps, const char *irq);
/* Wait until it listens (its socket path appears). 0 or -ETIMEDOUT. */
int vu_srv_wait_ready(struct vu_srv *s);
/* Wait, then connect. Returns the fd or -errno. */
int vu_srv_connect(struct vu_srv *s);
/* Kill (if running) and reap; returns the wait status. */
int vu_srv_stop(struct vu_srv *s);

/* Client memory backed by a memfd (the test's "guest RAM"). */
struct vu_mem {
	int fd;
	uint8_t *p;
	uint64_t size;
	unsigned dma_reads, dma_writes;
};

int vu_mem_init(struct vu_mem *m, uint64_t size);
void vu_mem_fini(struct vu_mem *m);
extern const struct vu_client_ops vu_mem_ops;

/* Server + connected, negotiated client over @m (m may be NULL). */
int vu_test_open(struct vu_srv *s, struct vu_client **c, struct vu_mem *m,
		 const char *mode, const char *caps, int timeout_ms);

#endif
