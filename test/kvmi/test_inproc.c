/* The engine's C API for other subsystems, in-process: a VM and the engine
 * on this thread's reactor, the tool on a second thread. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kt.h"
#include "kvmi.h"

struct dma_case {
	struct kvmi *k;
	char sock[108];
	int before, read_ro, write_ro, write_rw, bad_len, after_detach;
	int err;
};

static void *tool_thread(void *arg)
{
	struct dma_case *d = arg;
	struct vigil_kvmi_page_entry e = { .access = VIGIL_KVMI_PAGE_R | VIGIL_KVMI_PAGE_X };
	struct vigil_kvmi *c = NULL;
	struct kt_ctl ctl = { 0 };
	uint64_t one = 1, sc = KT_MULTI;
	int i;

	for (i = 0; i < 500 && (d->err = vigil_kvmi_connect(d->sock, 5000, &c)); i++)
		usleep(10000);
	if (d->err)
		return NULL;
	while (!ctl.ready && !d->err)
		d->err = vigil_kvmi_read_physical(c, KT_CTL, &ctl, sizeof(ctl), NULL);
	e.gpa = ctl.wpage;
	d->before = kvmi_dma_check(d->k, 7, ctl.wpage, 16, KVMI_DMA_FROM_DEVICE);
	if (!d->err)
		d->err = vigil_kvmi_set_page_access(c, &e, 1, NULL);
	d->read_ro = kvmi_dma_check(d->k, 7, ctl.wpage, 4096, KVMI_DMA_TO_DEVICE);
	/* A transfer that touches the protected page anywhere is refused. */
	d->write_ro = kvmi_dma_check(d->k, 7, ctl.wpage - 100, 200, KVMI_DMA_FROM_DEVICE);
	d->write_rw = kvmi_dma_check(d->k, 7, ctl.wpage - 4096, 4096, KVMI_DMA_FROM_DEVICE);
	d->bad_len = kvmi_dma_check(d->k, 7, ctl.wpage, 0, KVMI_DMA_FROM_DEVICE);
	vigil_kvmi_unhook(c);
	usleep(50000);
	d->after_detach = kvmi_dma_check(d->k, 7, ctl.wpage, 16, KVMI_DMA_FROM_DEVICE);
	vigil_kvmi_close(&c);
	for (i = 0; i < 500 && (d->err = vigil_kvmi_connect(d->sock, 5000, &c)); i++)
		usleep(10000);   /* reattach to let the guest finish */
	if (d->err)
		return NULL;
	vigil_kvmi_write_physical(c, KT_CTL + offsetof(struct kt_ctl, scenario), &sc, 8, 0, NULL);
	vigil_kvmi_write_physical(c, KT_CTL + offsetof(struct kt_ctl, go), &one, 8, 0, NULL);
	vigil_kvmi_close(&c);
	return NULL;
}

Test(kvmi_inproc, dma_check_follows_the_page_policy, .timeout = 60)
{
	struct kvmi_config cfg = { 0 };
	struct dma_case d = { 0 };
	struct tvm t;
	pthread_t th;
	int st;

	cr_assert_eq(tvm_boot(&t, KT_GUEST, 1, 16u << 20), 0);
	snprintf(d.sock, sizeof(d.sock), "/tmp/kt-inproc-%d.sock", getpid());
	cfg.path = d.sock;
	cr_assert_eq(kvmi_new(&d.k, t.vm, t.reactor.base, &cfg), 0);
	cr_assert_eq(pthread_create(&th, NULL, tool_thread, &d), 0);
	st = tvm_run(&t, 30000);
	pthread_join(th, NULL);
	kvmi_free(&d.k);
	tvm_free(&t);
	cr_assert_eq(d.err, 0, "tool: %s", strerror(-d.err));
	cr_assert_eq(st, 0);
	cr_assert_eq(d.before, 0, "no policy yet");
	cr_assert_eq(d.read_ro, 0, "device reads of a write-protected page are fine");
	cr_assert_eq(d.write_ro, -EACCES);
	cr_assert_eq(d.write_rw, 0);
	cr_assert_eq(d.bad_len, -EINVAL);
	cr_assert_eq(d.after_detach, 0, "no restriction after the tool left");
}
