/*
 * Fuzz harness for the vfio-user client's receive path.
 *
 * The input file is the byte stream a "server" sends; the client reads it
 * through the pipe transport (the same code as over a socket, minus fds)
 * while it negotiates and enumerates. Any crash, hang past the timeouts or
 * sanitizer report is a bug; the exit status is 0 whatever the input does.
 *
 *   fuzz_client FILE              run one input (AFL: fuzz_client @@)
 *   fuzz_client --seed FILE       write a well-formed transcript to FILE
 *   fuzz_client --mutate N SEED   run SEED and N deterministic mutations of it
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vu_dev.h"

/*
 * The "server": replies in the input are released one per command the client
 * has sent (so a reply never overtakes its command); anything else (server
 * commands, garbage) goes out at once. Sizes come from the input's own
 * headers, clamped to what is left.
 */
struct feed {
	int in_fd, out_fd;
	const uint8_t *buf;
	size_t len;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned commands_seen;
	bool client_done;
};

static void wait_for_command(struct feed *f, unsigned replies_sent)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 300 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->lock);
	while (f->commands_seen <= replies_sent && !f->client_done &&
	       pthread_cond_timedwait(&f->cond, &f->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&f->lock);
}

static void *feeder(void *arg)
{
	struct feed *f = arg;
	size_t off = 0;
	unsigned replies = 0;

	while (off < f->len) {
		size_t n = f->len - off;
		struct vu_hdr h;

		if (n >= sizeof(h)) {
			memcpy(&h, f->buf + off, sizeof(h));
			if (h.msg_size >= sizeof(h) && h.msg_size < n)
				n = h.msg_size;
			if ((h.flags & VU_F_TYPE_MASK) == VU_F_TYPE_REPLY)
				wait_for_command(f, replies++);
		}
		if (write(f->in_fd, f->buf + off, n) != (ssize_t)n)
			break;
		off += n;
	}
	close(f->in_fd);
	return NULL;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Read the client's messages; count its commands. */
static void *drainer(void *arg)
{
	struct feed *f = arg;
	static uint8_t body[2 << 20];
	struct vu_hdr h;

	while (read_full(f->out_fd, &h, sizeof(h)) == 0 && h.msg_size >= sizeof(h) &&
	       h.msg_size - sizeof(h) <= sizeof(body) &&
	       read_full(f->out_fd, body, h.msg_size - sizeof(h)) == 0) {
		if ((h.flags & VU_F_TYPE_MASK) != VU_F_TYPE_COMMAND)
			continue;
		pthread_mutex_lock(&f->lock);
		f->commands_seen++;
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_lock(&f->lock);
	f->client_done = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	close(f->out_fd);
	return NULL;
}

static int dma_ok(void *o, uint64_t a, void *b, uint32_t l)
{
	(void)o; (void)a;
	memset(b, 0x5a, l);
	return 0;
}

static int dma_wr(void *o, uint64_t a, const void *b, uint32_t l)
{
	(void)o; (void)a; (void)b; (void)l;
	return 0;
}

static const struct vu_client_ops ops = { .dma_read = dma_ok, .dma_write = dma_wr };

/* The client's side of a session; returns how far it got. */
static int session(struct vu_client *c)
{
	struct vu_device_info di;
	struct vu_region r;
	struct vu_irq_info ii;
	uint32_t v = 0;
	int fd, step = 0;

	if (vu_client_negotiate(c) == 0)
		step++;
	if (vu_dev_get_info(c, &di) == 0)
		step++;
	if (vu_dev_dma_map(c, 0, 1 << 20, VU_DMA_READ | VU_DMA_WRITE, -1, 0) == 0)
		step++;
	if (vu_dev_get_region_info(c, 2, &r, &fd) == 0)
		step++;
	if (vu_dev_get_irq_info(c, 0, &ii) == 0)
		step++;
	if (vu_dev_region_read(c, 0, 0, &v, 4) == 0)
		step++;
	if (vu_dev_region_write(c, 0, 0, &v, 4) == 0)
		step++;
	return step;
}

static int run_input(const uint8_t *buf, size_t len)
{
	int in[2], out[2], step;
	struct vu_client_config cfg = { .name = "fuzz", .call_timeout_ms = 200, .ops = &ops };
	struct vu_client *c;
	struct vu_tran *t;
	struct feed f = { .buf = buf, .len = len };
	pthread_t ft, dt;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	f.in_fd = in[1];
	f.out_fd = out[0];
	pthread_mutex_init(&f.lock, NULL);
	pthread_cond_init(&f.cond, NULL);
	if (vu_tran_fd_new(&t, in[0], out[1]) || vu_client_new(&c, t, &cfg))
		return -1;
	pthread_create(&ft, NULL, feeder, &f);
	pthread_create(&dt, NULL, drainer, &f);
	step = session(c);
	vu_client_free(&c);       /* closes in[0] and out[1]: both threads end */
	pthread_join(ft, NULL);
	pthread_join(dt, NULL);
	pthread_cond_destroy(&f.cond);
	pthread_mutex_destroy(&f.lock);
	return step;
}

/* ---- a well-formed transcript ---- */

static size_t put_msg(uint8_t *p, uint16_t id, uint16_t cmd, const void *body, size_t len)
{
	struct vu_hdr h = { id, cmd, (uint32_t)(sizeof(h) + len), VU_F_TYPE_REPLY, 0 };

	memcpy(p, &h, sizeof(h));
	if (len)
		memcpy(p + sizeof(h), body, len);
	return sizeof(h) + len;
}

static size_t make_seed(uint8_t *p)
{
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
	uint8_t v[4 + sizeof(caps)] = { 0, 0, 2, 0 };
	struct vu_device_info di = { 16, VFIO_DEVICE_FLAGS_PCI, 9, 1 };
	struct {
		struct vu_region_info ri;
		struct vu_cap_hdr cap;
		struct vu_sparse_mmap sm;
		struct vu_sparse_area a;
	} ri = { { 64, VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS, 2, 32, 8192, 0 },
		 { VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 0 }, { 1, 0 }, { 4096, 4096 } };
	struct vu_irq_info ii = { 16, VFIO_IRQ_INFO_EVENTFD, 0, 1 };
	struct vu_region_access ra = { 0, 0, 4 };
	uint8_t rd[sizeof(ra) + 4] = { 0 };
	struct vu_region_access wr = { 0, 0, 4 };
	struct vu_dma_access dma = { 0x1000, 16 };
	struct vu_hdr dreq = { 7, VU_CMD_DMA_READ, 32, VU_F_TYPE_COMMAND, 0 };
	size_t n = 0;

	memcpy(v + 4, caps, sizeof(caps));
	memcpy(rd, &ra, sizeof(ra));
	n += put_msg(p + n, 0, VU_CMD_VERSION, v, sizeof(v));
	n += put_msg(p + n, 1, VU_CMD_DEVICE_GET_INFO, &di, sizeof(di));
	n += put_msg(p + n, 2, VU_CMD_DMA_MAP, NULL, 0);
	/* A server command between replies: DMA_READ inside the window. */
	memcpy(p + n, &dreq, sizeof(dreq));
	memcpy(p + n + sizeof(dreq), &dma, sizeof(dma));
	n += sizeof(dreq) + sizeof(dma);
	ri.ri.argsz = sizeof(ri);
	n += put_msg(p + n, 3, VU_CMD_DEVICE_GET_REGION_INFO, &ri.ri, 32);   /* "ask again" */
	n += put_msg(p + n, 4, VU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri));
	n += put_msg(p + n, 5, VU_CMD_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii));
	n += put_msg(p + n, 6, VU_CMD_REGION_READ, rd, sizeof(rd));
	n += put_msg(p + n, 7, VU_CMD_REGION_WRITE, &wr, sizeof(wr));
	return n;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	if (!f || !buf)
		exit(2);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static int mutate_runs(unsigned n, const char *seed_path)
{
	size_t len;
	uint8_t *seed = read_file(seed_path, &len), *m = malloc(len + 64);
	unsigned hist[8] = { 0 };
	int full;

	if (len == 0 || !m) {
		free(seed);
		free(m);
		return 1;
	}
	full = run_input(seed, len);

	printf("seed: %d of 7 steps\n", full);
	srand(4242);
	for (unsigned i = 0; i < n; i++) {
		size_t mlen = len;

		memcpy(m, seed, len);
		for (int k = 0, flips = 1 + rand() % 4; k < flips; k++)
			m[(size_t)rand() % len] = (uint8_t)rand();
		if (i % 5 == 0)
			mlen = (size_t)rand() % len;   /* truncated stream */
		int st = run_input(m, mlen);

		hist[st >= 0 && st <= 7 ? st : 0]++;
	}
	printf("mutations by steps completed:");
	for (int k = 0; k <= 7; k++)
		printf(" %d:%u", k, hist[k]);
	printf("\n");
	free(m);
	free(seed);
	return full == 7 ? 0 : 1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "--seed")) {
		uint8_t buf[4096];
		size_t n = make_seed(buf);
		FILE *f = fopen(argv[2], "wb");

		return f && fwrite(buf, 1, n, f) == n && fclose(f) == 0 ? 0 : 2;
	}
	if (argc == 4 && !strcmp(argv[1], "--mutate"))
		return mutate_runs((unsigned)atoi(argv[2]), argv[3]);
	if (argc == 2) {
		size_t len;
		uint8_t *buf = read_file(argv[1], &len);

		printf("%d of 7 steps\n", run_input(buf, len));
		free(buf);
		return 0;
	}
	fprintf(stderr, "usage: fuzz_client FILE | --seed FILE | --mutate N SEED\n");
	return 2;
}
