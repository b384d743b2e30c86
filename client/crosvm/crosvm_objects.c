/* crosvm.h: objects (io events, memory, irq events) and VM-wide state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static uint32_t new_id(struct crosvm *c)
{
	return atomic_fetch_add(&c->shared->next_id, 1);
}

static int destroy_id(struct crosvm *c, uint32_t id)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__Destroy m = MAIN_REQUEST__DESTROY__INIT;
	MainResponse *resp;
	int ret;

	m.id = id;
	req.message_case = MAIN_REQUEST__MESSAGE_DESTROY;
	req.destroy = &m;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, NULL, 0, NULL, 0);
	if (!ret)
		main_response__free_unpacked(resp, NULL);
	return ret;
}

/* Send a Create; on success returns the fds of the response. */
static int create(struct crosvm *c, MainRequest__Create *cr, int memfd, int *fds, unsigned nfds)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainResponse *resp;
	unsigned nin = 0;
	int ret;

	req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
	req.create = cr;
	ret = cv_main_xfer(c, &req, &memfd, memfd >= 0, &resp, fds, nfds, &nin, 0);
	if (ret)
		return ret;
	main_response__free_unpacked(resp, NULL);
	if (nin != nfds) {
		cv_close_fds(fds, nin);
		return -EPROTO;
	}
	return 0;
}

CV_EXPORT int crosvm_create_io_event(struct crosvm *c, uint32_t space, uint64_t addr,
				     uint32_t len, const uint8_t *datamatch,
				     struct crosvm_io **out)
{
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Create__IoEvent m = MAIN_REQUEST__CREATE__IO_EVENT__INIT;
	struct crosvm_io *io;
	int fd, ret;

	if (!c || !out)
		return -EINVAL;
	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	if (datamatch && len == 0)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	m.space = space;
	m.address = addr;
	m.length = len;
	if (datamatch) {
		uint64_t v = 0;

		memcpy(&v, datamatch, len);   /* little-endian host */
		m.datamatch = v;
		m.has_datamatch = true;
	}
	io->id = new_id(c);
	cr.id = io->id;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IO_EVENT;
	cr.io_event = &m;
	ret = create(c, &cr, -1, &fd, 1);
	if (ret) {
		free(io);
		return ret;
	}
	io->evfd = fd;
	*out = io;
	return 0;
}

CV_EXPORT int crosvm_destroy_io_event(struct crosvm *c, struct crosvm_io **io)
{
	int ret;

	if (!c || !io || !*io)
		return -EINVAL;
	ret = destroy_id(c, (*io)->id);
	close((*io)->evfd);
	free(*io);
	*io = NULL;
	return ret;
}

CV_EXPORT int crosvm_io_event_fd(struct crosvm_io *io)
{
	return io ? io->evfd : -EINVAL;
}

CV_EXPORT int crosvm_create_memory(struct crosvm *c, int fd, uint64_t offset, uint64_t length,
				   uint64_t start, bool read_only, bool dirty_log,
				   struct crosvm_memory **out)
{
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Create__Memory m = MAIN_REQUEST__CREATE__MEMORY__INIT;
	struct crosvm_memory *mem;
	int ret;

	if (!c || !out)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	m.offset = offset;
	m.start = start;
	m.length = length;
	m.read_only = read_only;
	m.dirty_log = dirty_log;
	mem->id = new_id(c);
	mem->length = length;
	cr.id = mem->id;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY;
	cr.memory = &m;
	ret = create(c, &cr, fd, NULL, 0);
	if (ret) {
		free(mem);
		return ret;
	}
	*out = mem;
	return 0;
}

CV_EXPORT int crosvm_destroy_memory(struct crosvm *c, struct crosvm_memory **mem)
{
	int ret;

	if (!c || !mem || !*mem)
		return -EINVAL;
	ret = destroy_id(c, (*mem)->id);
	free(*mem);
	*mem = NULL;
	return ret;
}

CV_EXPORT int crosvm_memory_get_dirty_log(struct crosvm *c, struct crosvm_memory *mem,
					  uint8_t *log)
{
	MainRequest req = MAIN_REQUEST__INIT;
	MainRequest__MemoryDirtyLog m = MAIN_REQUEST__MEMORY_DIRTY_LOG__INIT;
	MainResponse *resp;
	uint64_t pages, bytes;
	int ret;

	if (!c || !mem || !log)
		return -EINVAL;
	pages = (mem->length + 4095) / 4096;
	bytes = (pages + 7) / 8;
	m.id = mem->id;
	req.message_case = MAIN_REQUEST__MESSAGE_DIRTY_LOG;
	req.dirty_log = &m;
	ret = cv_main_xfer(c, &req, NULL, 0, &resp, NULL, 0, NULL,
			   (size_t)(bytes + 8 + 256 > CROSVM_RESP_BUF ? bytes + 8 + 256
								      : CROSVM_RESP_BUF));
	if (ret)
		return ret;
	if (resp->dirty_log->bitmap.len < bytes) {
		main_response__free_unpacked(resp, NULL);
		return -EPROTO;
	}
	memcpy(log, resp->dirty_log->bitmap.data, bytes);
	main_response__free_unpacked(resp, NULL);
	return 0;
}

CV_EXPORT int crosvm_create_irq_event(struct crosvm *c, uint32_t irq_id, struct crosvm_irq **out)
{
	MainRequest__Create cr = MAIN_REQUEST__CREATE__INIT;
	MainRequest__Create__IrqEvent m = MAIN_REQUEST__CREATE__IRQ_EVENT__INIT;
	struct crosvm_irq *irq;
	int fds[2], ret;

	if (!c || !out)
		return -EINVAL;
	irq = calloc(1, sizeof(*irq));
	if (!irq)
		return -ENOMEM;
	m.irq_id = irq_id;
	m.resample = true;
	irq->id = new_id(c);
	cr.id = irq->id;
	cr.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT;
	cr.irq_event = &m;
	ret = create(c, &cr, -1, fds, 2);
	if (ret) {
		free(irq);
		return ret;
	}
	irq->evfd = fds[0];
	irq->resample_fd = fds[1];
	*out = irq;
	return 0;
}

CV_EXPORT int crosvm_destroy_irq_event(struct crosvm *c, struct crosvm_irq **irq)
{
	int ret;

	if (!c || !irq || !*irq)
		return -EINVAL;
	ret = destroy_id(c, (*irq)->id);
	close((*irq)->evfd);
	close((*irq)->resample_fd);
	free(*irq);
	*irq = NULL;
	return ret;
}

CV_EXPORT int crosvm_irq_event_get_fd(const struct crosvm_irq *irq)
{
	return irq ? irq->evfd : -EINVAL;
}

CV_EXPORT int crosvm_irq_event_get_resample_fd(const struct crosvm_irq *irq)
{
	return irq ? irq->resample_fd : -EINVAL;
}
