/*
 * Replies a server should never send, from a hand-written peer on a UNIX
 * socketpair (every byte chosen by the test): a reply with the wrong id or
 * command, a reply nobody waits for, a reply whose payload does not match
 * the command, and descriptors attached to messages that take none.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "vu_dev.h"

#define REGION 0

/* What the peer does with each request after VERSION. */
enum peer_mode {
	PEER_WRONG_ID,          /* reply with msg_id + 1 */
	PEER_WRONG_CMD,         /* reply to REGION_READ as REGION_WRITE */
	PEER_UNSOLICITED,       /* after VERSION, send a reply to nothing */
	PEER_MISMATCH_ONCE,     /* first REGION_READ: wrong offset echoed */
	PEER_SHORT_ONCE,        /* first REGION_READ: data shorter than count */
	PEER_FDS_ON_REPLY,      /* REGION_WRITE reply carries 3 descriptors */
};

struct peer {
	int fd;
	enum peer_mode mode;
	unsigned served;
	pthread_t thread;
};

static struct peer P;
static struct vu_client *cli;
static atomic_int failed_count, failed_err;

static void on_failed(void *opaque, int err, const char *why)
{
	(void)opaque;
	(void)why;
	atomic_store(&failed_err, err);
	atomic_fetch_add(&failed_count, 1);
}

static const struct vu_client_ops ops = { .failed = on_failed };

static int read_all(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (uint8_t *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Send header + body, with @nfds descriptors from @fds. */
static void send_msg(int fd, const struct vu_hdr *h, const void *body, size_t len,
		     const int *fds, unsigned nfds)
{
	struct iovec iov[2] = { { (void *)h, sizeof(*h) }, { (void *)body, len } };
	FDPASS_CTL(ctl, 8);
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	fdpass_attach(&m, ctl.buf, fds, nfds);
	cr_assert_eq(sendmsg(fd, &m, MSG_NOSIGNAL), (ssize_t)(sizeof(*h) + len));
}

static void reply(int fd, const struct vu_hdr *req, uint16_t id, uint16_t cmd,
		  const void *body, size_t len, const int *fds, unsigned nfds)
{
	struct vu_hdr h = {
		.msg_id = id, .cmd = cmd, .msg_size = (uint32_t)(sizeof(h) + len),
		.flags = VU_F_TYPE_REPLY,
	};

	(void)req;
	send_msg(fd, &h, body, len, fds, nfds);
}

static void answer_version(int fd, const struct vu_hdr *req)
{
	static const char json[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
	uint8_t body[sizeof(struct vu_version) + sizeof(json)];
	struct vu_version v = { .major = 0, .minor = 2 };

	memcpy(body, &v, sizeof(v));
	memcpy(body + sizeof(v), json, sizeof(json));
	reply(fd, req, req->msg_id, VU_CMD_VERSION, body, sizeof(body), NULL, 0);
}

static void answer_access(struct peer *p, const struct vu_hdr *req, const uint8_t *body)
{
	struct vu_region_access a;
	uint8_t out[sizeof(a) + 64];
	uint32_t data_len;
	bool first = p->served++ == 0;
	int efd[3];

	memcpy(&a, body, sizeof(a));
	data_len = req->cmd == VU_CMD_REGION_READ ? a.count : 0;
	memset(out + sizeof(a), 0x5a, data_len);
	switch (p->mode) {
	case PEER_WRONG_ID:
		memcpy(out, &a, sizeof(a));
		reply(p->fd, req, (uint16_t)(req->msg_id + 1), req->cmd, out, sizeof(a) + data_len,
		      NULL, 0);
		return;
	case PEER_WRONG_CMD:
		memcpy(out, &a, sizeof(a));
		reply(p->fd, req, req->msg_id, VU_CMD_REGION_WRITE, out, sizeof(a), NULL, 0);
		return;
	case PEER_MISMATCH_ONCE:
		if (first)
			a.offset += 4;
		break;
	case PEER_SHORT_ONCE:
		if (first)
			data_len /= 2;
		break;
	case PEER_FDS_ON_REPLY:
		for (int i = 0; i < 3; i++)
			efd[i] = eventfd(0, EFD_CLOEXEC);
		memcpy(out, &a, sizeof(a));
		reply(p->fd, req, req->msg_id, req->cmd, out, sizeof(a) + data_len, efd, 3);
		for (int i = 0; i < 3; i++)
			close(efd[i]);
		return;
	case PEER_UNSOLICITED:
		break;
	}
	memcpy(out, &a, sizeof(a));
	reply(p->fd, req, req->msg_id, req->cmd, out, sizeof(a) + data_len, NULL, 0);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	uint8_t body[4096];
	struct vu_hdr h;

	while (read_all(p->fd, &h, sizeof(h)) == 0) {
		uint32_t len = h.msg_size - (uint32_t)sizeof(h);

		if (len > sizeof(body) || read_all(p->fd, body, len))
			break;
		if (h.cmd == VU_CMD_VERSION) {
			answer_version(p->fd, &h);
			if (p->mode == PEER_UNSOLICITED)
				reply(p->fd, &h, 77, VU_CMD_REGION_READ, NULL, 0, NULL, 0);
		} else if (h.cmd == VU_CMD_REGION_READ || h.cmd == VU_CMD_REGION_WRITE) {
			answer_access(p, &h, body);
		}
	}
	return NULL;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void start(enum peer_mode mode)
{
	struct vu_client_config cfg = { .name = "badreply", .call_timeout_ms = 2000, .ops = &ops };
	struct vu_tran *t;
	int sv[2];

	atomic_store(&failed_count, 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	P.fd = sv[1];
	P.mode = mode;
	P.served = 0;
	cr_assert_eq(pthread_create(&P.thread, NULL, peer_main, &P), 0);
	cr_assert_eq(vu_tran_fd_new(&t, sv[0], sv[0]), 0);
	cr_assert_eq(vu_client_new(&cli, t, &cfg), 0);
	cr_assert_eq(vu_client_negotiate(cli), 0);
}

static void teardown(void)
{
	vu_client_free(&cli);
	if (P.fd > 0) {
		shutdown(P.fd, SHUT_RDWR);
		pthread_join(P.thread, NULL);
		close(P.fd);
	}
	memset(&P, 0, sizeof(P));
}

TestSuite(vfio_badreply, .fini = teardown, .timeout = 30);

static void expect_device_failed(void)
{
	uint32_t v;

	for (int i = 0; i < 200 && !atomic_load(&failed_count); i++)
		usleep(10 * 1000);
	cr_assert_eq(atomic_load(&failed_count), 1, "the connection must fail exactly once");
	cr_expect_eq(atomic_load(&failed_err), -EPROTO);
	/* Sticky: later calls fail at once, without a server round trip. */
	cr_expect_eq(vu_dev_region_read(cli, REGION, 0, &v, 4), -ENOTCONN);
	cr_expect_eq(atomic_load(&failed_count), 1);
}

Test(vfio_badreply, reply_with_wrong_id_fails_the_device)
{
	uint32_t v;

	start(PEER_WRONG_ID);
	cr_expect_neq(vu_dev_region_read(cli, REGION, 0, &v, 4), 0);
	expect_device_failed();
}

Test(vfio_badreply, reply_with_wrong_command_fails_the_device)
{
	uint32_t v;

	start(PEER_WRONG_CMD);
	cr_expect_neq(vu_dev_region_read(cli, REGION, 0, &v, 4), 0);
	expect_device_failed();
}

Test(vfio_badreply, reply_nobody_waits_for_fails_the_device)
{
	start(PEER_UNSOLICITED);
	expect_device_failed();
}

Test(vfio_badreply, echo_mismatch_fails_only_that_access)
{
	uint32_t v = 0;

	start(PEER_MISMATCH_ONCE);
	cr_expect_eq(vu_dev_region_read(cli, REGION, 8, &v, 4), -EPROTO);
	cr_expect_eq(vu_dev_region_read(cli, REGION, 8, &v, 4), 0);
	cr_expect_eq(v, 0x5a5a5a5au);
	cr_expect_eq(atomic_load(&failed_count), 0);
}

Test(vfio_badreply, short_read_reply_fails_only_that_access)
{
	uint64_t v = 0;

	start(PEER_SHORT_ONCE);
	cr_expect_eq(vu_dev_region_read(cli, REGION, 0, &v, 8), -EPROTO);
	cr_expect_eq(vu_dev_region_read(cli, REGION, 0, &v, 8), 0);
	cr_expect_eq(v, 0x5a5a5a5a5a5a5a5aULL);
	cr_expect_eq(atomic_load(&failed_count), 0);
}

Test(vfio_badreply, descriptors_on_a_reply_that_takes_none_are_closed)
{
	uint32_t v = 1;
	unsigned before;

	start(PEER_FDS_ON_REPLY);
	before = open_fds();
	for (int i = 0; i < 20; i++)
		cr_assert_eq(vu_dev_region_write(cli, REGION, 0, &v, 4), 0);
	/* The reader closes a reply's descriptors just after waking the call,
	 * and the peer (a thread here) closes its copies after sending: give
	 * both a moment. 60 leaked descriptors never go away. */
	for (int i = 0; i < 100 && open_fds() != before; i++)
		usleep(10 * 1000);
	cr_expect_eq(open_fds(), before, "descriptors that came with replies leaked");
	cr_expect_eq(atomic_load(&failed_count), 0);
}
