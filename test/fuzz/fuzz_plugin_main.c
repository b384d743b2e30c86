/*
 * Fuzz target: requests on the plugin's main socket, served by the real
 * plugin server (server/plugin via plugin_attach) for a real VM. The input is
 * a sequence of packets, each [u8 ctl][u16 length, little endian][bytes];
 * ctl % 8 chooses the fds sent with it (none, a sealed memfd, an unsealed
 * memfd, an eventfd, /dev/null, two memfds, a directory, a one-page memfd).
 * Checked for every packet: exactly one reply, decodable, error <= 0, and
 * the oneof member that answers the request (none for undecodable input).
 * Checked for every input: the VM did not stop and no fd leaked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "fuzz_util.h"
#include "plugin.pb-c.h"
#include "plugin_env.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct penv env;
static int base_fds = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(penv_init(&env) == 0, "cannot open /dev/kvm");
	FUZZ_CHECK(penv_up(&env) == 0, "cannot create the VM");
	return 0;
}

static unsigned expected_case(const uint8_t *buf, size_t len)
{
	MainRequest *req = main_request__unpack(NULL, len, buf);
	unsigned c;

	if (!req)
		return MAIN_RESPONSE__MESSAGE__NOT_SET;
	c = req->message_case;
	main_request__free_unpacked(req, NULL);
	if (c == MAIN_REQUEST__MESSAGE__NOT_SET)
		return MAIN_RESPONSE__MESSAGE__NOT_SET;
	return c == MAIN_REQUEST__MESSAGE_DIRTY_LOG ? MAIN_RESPONSE__MESSAGE_DIRTY_LOG : c + 1;
}

static void one_packet(unsigned ctl, const uint8_t *buf, size_t len)
{
	int fds[2] = { -1, -1 };
	unsigned nfds = penv_pool_fds(ctl, fds), rc;
	int r;

	r = penv_call(&env, env.main_fd, buf, len, fds, nfds, 2000);
	penv_close_fds(fds, nfds);
	FUZZ_CHECK(r == 1, "no reply to a %zu-byte request (%d)", len, r);
	r = penv_main_reply(&env, &rc);
	FUZZ_CHECK(r != -EBADMSG, "undecodable reply");
	FUZZ_CHECK(r <= 0, "positive error %d", r);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "main: %zu bytes, %u fds -> case %u error %d\n", len, nfds, rc, r);
	FUZZ_CHECK(rc == expected_case(buf, len), "reply case %u for request case %u", rc,
		   expected_case(buf, len));
	/* Nothing else may be queued: one request, one reply. */
	FUZZ_CHECK(penv_read(&env, env.main_fd) == 0, "a second reply");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	int nfds;

	if (base_fds < 0)
		base_fds = fuzz_count_fds(-1);
	while (off + 3 <= size) {
		unsigned ctl = data[off];
		size_t len = data[off + 1] | (size_t)data[off + 2] << 8;

		off += 3;
		if (len > size - off)
			len = size - off;
		one_packet(ctl, data + off, len);
		off += len;
		FUZZ_CHECK(!vm_stop_requested(env.vm), "the VM stopped: %s", env.vm->stop.reason);
	}
	FUZZ_CHECK(penv_reset(&env) == 0, "reset");
	nfds = fuzz_count_fds(base_fds);
	if (nfds != base_fds)
		fuzz_dump_fds();
	FUZZ_CHECK(nfds == base_fds, "fd leak: %d open, %d before", nfds, base_fds);
	return 0;
}
