/* Helpers for the vfio-user suites. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vu_test_util.h"

int vu_srv_start(struct vu_srv *s, const char *mode, const char *caps)
{
	return vu_srv_start_irq(s, mode, caps, NULL);
}

int vu_srv_start_irq(struct vu_srv *s, const char *mode, const char *caps, const char *irq)
{
	static unsigned seq;
	char a_path[140], a_mode[64], a_caps[512], a_irq[64];
	char *argv[6] = { (char *)VU_DMA_SERVER, a_path, NULL, NULL, NULL, NULL };
	int n = 2;

	snprintf(s->path, sizeof(s->path), "/tmp/vu-test-%d-%u.sock", getpid(), seq++);
	unlink(s->path);
	snprintf(a_path, sizeof(a_path), "--socket-path=%s", s->path);
	if (mode) {
		snprintf(a_mode, sizeof(a_mode), "--mode=%s", mode);
		argv[n++] = a_mode;
	}
	if (caps) {
		snprintf(a_caps, sizeof(a_caps), "--caps=%s", caps);
		argv[n++] = a_caps;
	}
	if (irq) {
		snprintf(a_irq, sizeof(a_irq), "--irq=%s", irq);
		argv[n++] = a_irq;
	}
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		/* A test that dies must not leave its server (and our pipes) behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	return 0;
}

int vu_srv_wait_ready(struct vu_srv *s)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	for (int i = 0; i < 1000; i++) {
		if (access(s->path, F_OK) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int vu_srv_connect(struct vu_srv *s)
{
	int err = vu_srv_wait_ready(s);

	return err ? err : vu_tran_connect_unix(s->path);
}

int vu_srv_stop(struct vu_srv *s)
{
	int st = 0;

	if (s->pid <= 0)
		return 0;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	unlink(s->path);
	return st;
}

int vu_mem_init(struct vu_mem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->fd = memfd_create("vu-test-ram", MFD_CLOEXEC);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)size) < 0)
		return -errno;
	m->p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->p == MAP_FAILED)
		return -errno;
	m->size = size;
	return 0;
}

void vu_mem_fini(struct vu_mem *m)
{
	if (m->p && m->p != MAP_FAILED)
		munmap(m->p, m->size);
	if (m->fd >= 0)
		close(m->fd);
}

static int mem_read(void *opaque, uint64_t addr, void *buf, uint32_t len)
{
	struct vu_mem *m = opaque;

	if (addr > m->size || len > m->size - addr)
		return -EFAULT;
	memcpy(buf, m->p + addr, len);
	m->dma_reads++;
	return 0;
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, uint32_t len)
{
	struct vu_mem *m = opaque;

	if (addr > m->size || len > m->size - addr)
		return -EFAULT;
	memcpy(m->p + addr, buf, len);
	m->dma_writes++;
	return 0;
}

const struct vu_client_ops vu_mem_ops = { .dma_read = mem_read, .dma_write = mem_write };

int vu_test_open(struct vu_srv *s, struct vu_client **c, struct vu_mem *m,
		 const char *mode, const char *caps, int timeout_ms)
{
	struct vu_client_config cfg = {
		.name = "test", .call_timeout_ms = timeout_ms,
		.ops = &vu_mem_ops, .opaque = m,
	};
	struct vu_tran *t;
	int fd, err;

	err = vu_srv_start(s, mode, caps);
	if (err)
		return err;
	fd = vu_srv_connect(s);
	if (fd < 0)
		return fd;
	err = vu_tran_fd_new(&t, fd, fd);
	if (err)
		return err;
	err = vu_client_new(c, t, &cfg);
	if (err)
		return err;
	return vu_client_negotiate(*c);
}
