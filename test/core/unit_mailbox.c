/*
 * Unit tests of the vCPU -> reactor mailbox and the waiter (server/mailbox.h):
 * FIFO order, the eventfd count bounding each drain, idempotent posting,
 * closing, tickets, timeouts, cancellation, and a multi-threaded stress in
 * which every call is answered exactly once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"

static struct mailbox mb;

static void mb_setup(void)
{
	cr_assert_eq(mailbox_init(&mb), 0);
}

static void mb_teardown(void)
{
	mailbox_fini(&mb);
}

TestSuite(mailbox, .init = mb_setup, .fini = mb_teardown, .timeout = 10);
TestSuite(waiter, .timeout = 10);

/* Handlers append the message's index to a log. */
static int order[64];
static unsigned nr_order;

static void log_handler(struct mbox_msg *m)
{
	if (nr_order < 64)
		order[nr_order] = (int)(intptr_t)m->opaque;
	nr_order++;
}

static void msgs_init(struct mbox_msg *m, unsigned n)
{
	unsigned i;

	nr_order = 0;
	for (i = 0; i < n; i++)
		m[i] = (struct mbox_msg){ .handler = log_handler, .opaque = (void *)(intptr_t)i };
}

static bool fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

Test(mailbox, drain_runs_handlers_in_fifo_order)
{
	struct mbox_msg m[5];
	unsigned i;

	msgs_init(m, 5);
	for (i = 0; i < 5; i++)
		cr_assert_eq(mailbox_post(&mb, &m[i]), 0);
	cr_assert_eq(mailbox_drain(&mb), 5);
	cr_assert_eq(nr_order, 5);
	for (i = 0; i < 5; i++)
		cr_assert_eq(order[i], (int)i, "position %u ran message %d", i, order[i]);
}

Test(mailbox, drain_with_nothing_posted_returns_zero_without_blocking)
{
	cr_assert_eq(mailbox_drain(&mb), 0);
}

Test(mailbox, fd_is_readable_exactly_while_a_wakeup_is_pending)
{
	struct mbox_msg m[1];

	msgs_init(m, 1);
	cr_assert_geq(mailbox_fd(&mb), 0);
	cr_assert_not(fd_readable(mailbox_fd(&mb)));
	cr_assert_eq(mailbox_post(&mb, &m[0]), 0);
	cr_assert(fd_readable(mailbox_fd(&mb)));
	cr_assert_eq(mailbox_drain(&mb), 1);
	cr_assert_not(fd_readable(mailbox_fd(&mb)));
}

Test(mailbox, drain_handles_at_most_the_eventfd_count)
{
	struct mbox_msg m[3];
	uint64_t v;

	msgs_init(m, 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(mailbox_post(&mb, &m[i]), 0);
	/* Swallow the three wake-ups and announce only two. */
	cr_assert_eq(read(mailbox_fd(&mb), &v, sizeof(v)), (ssize_t)sizeof(v));
	cr_assert_eq(v, 3);
	v = 2;
	cr_assert_eq(write(mailbox_fd(&mb), &v, sizeof(v)), (ssize_t)sizeof(v));
	cr_assert_eq(mailbox_drain(&mb), 2);
	cr_assert_eq(nr_order, 2);
	cr_assert_eq(order[0], 0);
	cr_assert_eq(order[1], 1);
	v = 1;
	cr_assert_eq(write(mailbox_fd(&mb), &v, sizeof(v)), (ssize_t)sizeof(v));
	cr_assert_eq(mailbox_drain(&mb), 1);
	cr_assert_eq(order[2], 2);
}

/* A handler that posts a second message: it comes with its own wake-up and
 * runs in the next drain, not in the one that is running. */
static struct mbox_msg chained;

static void chain_handler(struct mbox_msg *m)
{
	log_handler(m);
	cr_assert_eq(mailbox_post(&mb, &chained), 0);
}

Test(mailbox, message_posted_by_a_handler_runs_in_the_next_drain)
{
	struct mbox_msg first;

	msgs_init(&chained, 1);
	chained.opaque = (void *)(intptr_t)7;
	first = (struct mbox_msg){ .handler = chain_handler, .opaque = (void *)(intptr_t)3 };
	cr_assert_eq(mailbox_post(&mb, &first), 0);
	cr_assert_eq(mailbox_drain(&mb), 1);
	cr_assert_eq(nr_order, 1);
	cr_assert(fd_readable(mailbox_fd(&mb)));
	cr_assert_eq(mailbox_drain(&mb), 1);
	cr_assert_eq(nr_order, 2);
	cr_assert_eq(order[1], 7);
}

Test(mailbox, posting_a_message_still_queued_is_a_noop)
{
	struct mbox_msg m[2];

	msgs_init(m, 2);
	cr_assert_eq(mailbox_post(&mb, &m[0]), 0);
	cr_assert_eq(mailbox_post(&mb, &m[1]), 0);
	cr_assert_eq(mailbox_post(&mb, &m[0]), 0);
	cr_assert_eq(mailbox_drain(&mb), 2);
	cr_assert_eq(nr_order, 2, "message 0 ran twice");
	cr_assert_eq(order[0], 0);
	cr_assert_eq(order[1], 1);
	cr_assert_eq(mailbox_drain(&mb), 0);
	cr_assert_eq(mb.posted, 2);
	cr_assert_eq(mb.handled, 2);
}

Test(mailbox, handled_message_can_be_posted_again)
{
	struct mbox_msg m[1];

	msgs_init(m, 1);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(mailbox_post(&mb, &m[0]), 0);
		cr_assert_eq(mailbox_drain(&mb), 1);
	}
	cr_assert_eq(nr_order, 3);
}

Test(mailbox, closed_mailbox_refuses_posts_with_epipe)
{
	struct mbox_msg m[1];

	msgs_init(m, 1);
	mailbox_close(&mb);
	cr_assert_eq(mailbox_post(&mb, &m[0]), -EPIPE);
	cr_assert_not(m[0].queued);
	cr_assert_eq(mailbox_drain(&mb), 0);
	cr_assert_eq(nr_order, 0);
}

Test(mailbox, close_still_lets_queued_messages_drain)
{
	struct mbox_msg m[2];

	msgs_init(m, 2);
	cr_assert_eq(mailbox_post(&mb, &m[0]), 0);
	cr_assert_eq(mailbox_post(&mb, &m[1]), 0);
	mailbox_close(&mb);
	cr_assert_eq(mailbox_drain(&mb), 2);
	cr_assert_eq(nr_order, 2);
}

/* ---- waiter ---- */

static struct waiter w;

static void w_setup(void)
{
	cr_assert_eq(waiter_init(&w), 0);
}

static void w_teardown(void)
{
	waiter_fini(&w);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

Test(waiter, each_arm_gives_a_new_ticket, .init = w_setup, .fini = w_teardown)
{
	uint64_t a = waiter_arm(&w), b = waiter_arm(&w);

	cr_assert_neq(a, b);
}

Test(waiter, completion_before_wait_returns_its_result, .init = w_setup, .fini = w_teardown)
{
	uint64_t t = waiter_arm(&w);
	double t0;

	cr_assert(waiter_complete(&w, t, 42));
	t0 = now_ms();
	cr_assert_eq(waiter_wait(&w, -1), 42);
	cr_assert_lt(now_ms() - t0, 1000.0, "wait blocked although already completed");
}

Test(waiter, negative_result_is_passed_through, .init = w_setup, .fini = w_teardown)
{
	uint64_t t = waiter_arm(&w);

	cr_assert(waiter_complete(&w, t, -EPERM));
	cr_assert_eq(waiter_wait(&w, 1000), -EPERM);
}

Test(waiter, second_completion_of_a_ticket_is_ignored, .init = w_setup, .fini = w_teardown)
{
	uint64_t t = waiter_arm(&w);

	cr_assert(waiter_complete(&w, t, 1));
	cr_assert_not(waiter_complete(&w, t, 2));
	cr_assert_eq(waiter_wait(&w, 1000), 1);
}

Test(waiter, stale_ticket_is_ignored, .init = w_setup, .fini = w_teardown)
{
	uint64_t t1, t2;

	t1 = waiter_arm(&w);
	t2 = waiter_arm(&w);
	cr_assert_not(waiter_complete(&w, t1, 1), "an old ticket completed the new arm");
	cr_assert_not(waiter_complete(&w, t2 + 1, 3), "a future ticket was accepted");
	cr_assert(waiter_complete(&w, t2, 2));
	cr_assert_eq(waiter_wait(&w, 1000), 2);
}

Test(waiter, timeout_is_etimedout_and_a_late_completion_is_ignored,
     .init = w_setup, .fini = w_teardown)
{
	uint64_t t = waiter_arm(&w), t2;
	double t0 = now_ms();

	cr_assert_eq(waiter_wait(&w, 30), -ETIMEDOUT);
	cr_assert_geq(now_ms() - t0, 29.0, "returned before the timeout");
	cr_assert_not(waiter_complete(&w, t, 5), "late answer accepted after the timeout");
	/* ...and it cannot leak into the next wait either. */
	t2 = waiter_arm(&w);
	cr_assert_eq(waiter_wait(&w, 0), -ETIMEDOUT);
	cr_assert_not(waiter_complete(&w, t2, 6));
}

Test(waiter, zero_timeout_returns_at_once, .init = w_setup, .fini = w_teardown)
{
	waiter_arm(&w);
	cr_assert_eq(waiter_wait(&w, 0), -ETIMEDOUT);
}

struct blocked {
	struct waiter *w;
	uint64_t ticket;
	int result;
	volatile bool armed;
};

static void *blocked_thread(void *p)
{
	struct blocked *b = p;

	b->ticket = waiter_arm(b->w);
	b->armed = true;
	b->result = waiter_wait(b->w, -1);
	return NULL;
}

static void start_blocked(struct blocked *b, pthread_t *t)
{
	*b = (struct blocked){ .w = &w, .result = 12345 };
	cr_assert_eq(pthread_create(t, NULL, blocked_thread, b), 0);
	while (!b->armed)
		usleep(1000);
	usleep(50 * 1000);  /* let it reach pthread_cond_wait */
}

Test(waiter, complete_wakes_a_thread_blocked_without_timeout,
     .init = w_setup, .fini = w_teardown)
{
	struct blocked b;
	pthread_t t;

	start_blocked(&b, &t);
	cr_assert_eq(b.result, 12345, "wait returned before completion");
	cr_assert(waiter_complete(&w, b.ticket, 99));
	pthread_join(t, NULL);
	cr_assert_eq(b.result, 99);
}

Test(waiter, cancel_wakes_a_thread_blocked_without_timeout,
     .init = w_setup, .fini = w_teardown)
{
	struct blocked b;
	pthread_t t;

	start_blocked(&b, &t);
	cr_assert_eq(b.result, 12345, "wait returned before cancellation");
	waiter_cancel(&w);
	pthread_join(t, NULL);
	cr_assert_eq(b.result, -ECANCELED);
	cr_assert(waiter_is_cancelled(&w));
}

Test(waiter, cancel_is_sticky, .init = w_setup, .fini = w_teardown)
{
	double t0;

	cr_assert_not(waiter_is_cancelled(&w));
	waiter_cancel(&w);
	waiter_arm(&w);
	t0 = now_ms();
	cr_assert_eq(waiter_wait(&w, -1), -ECANCELED);
	waiter_arm(&w);
	cr_assert_eq(waiter_wait(&w, 5000), -ECANCELED);
	cr_assert_lt(now_ms() - t0, 1000.0, "a wait after cancel blocked");
	cr_assert(waiter_is_cancelled(&w));
}

Test(waiter, spinning_wait_still_times_out, .init = w_setup, .fini = w_teardown)
{
	uint64_t t;

	w.spin_us = 2000;
	t = waiter_arm(&w);
	cr_assert_eq(waiter_wait(&w, 5), -ETIMEDOUT);
	cr_assert_not(waiter_complete(&w, t, 1));
	t = waiter_arm(&w);
	cr_assert(waiter_complete(&w, t, 8));
	cr_assert_eq(waiter_wait(&w, 0), 8);
}

Test(waiter, spinning_wait_is_woken_by_cancel, .init = w_setup, .fini = w_teardown)
{
	struct blocked b;
	pthread_t t;

	w.spin_us = 1000;
	start_blocked(&b, &t);
	waiter_cancel(&w);
	pthread_join(t, NULL);
	cr_assert_eq(b.result, -ECANCELED);
}

Test(waiter, spinning_wait_picks_up_a_completion, .init = w_setup, .fini = w_teardown)
{
	struct blocked b;
	pthread_t t;

	w.spin_us = 100000;    /* the completion lands while it spins */
	b = (struct blocked){ .w = &w, .result = 12345 };
	cr_assert_eq(pthread_create(&t, NULL, blocked_thread, &b), 0);
	while (!b.armed)
		usleep(100);
	cr_assert(waiter_complete(&w, b.ticket, 77));
	pthread_join(t, NULL);
	cr_assert_eq(b.result, 77);
}

/* ---- stress: 4 vCPU-like posters, one reactor draining via poll() ---- */

#define POSTERS 4
#define ROUNDS 2000

struct poster {
	struct mbox_msg msg;
	struct waiter w;
	uint64_t ticket;     /* set before each post, read by the handler */
	unsigned payload;
	unsigned handled;    /* reactor-side count */
	unsigned late;       /* completions refused */
	unsigned wrong;      /* waits that returned the wrong answer */
	unsigned answered;
};

static struct poster posters[POSTERS];
static volatile unsigned total_handled;
static volatile bool reactor_stop;

static void stress_handler(struct mbox_msg *m)
{
	struct poster *p = m->opaque;

	p->handled++;
	if (!waiter_complete(&p->w, p->ticket, (int)p->payload + 1))
		p->late++;
	total_handled++;
}

static void *reactor_thread(void *arg)
{
	struct pollfd pfd = { .fd = mailbox_fd(&mb), .events = POLLIN };

	(void)arg;
	while (!reactor_stop) {
		if (poll(&pfd, 1, 100) > 0)
			mailbox_drain(&mb);
	}
	return NULL;
}

static void *poster_thread(void *arg)
{
	struct poster *p = arg;
	unsigned i;

	for (i = 0; i < ROUNDS; i++) {
		p->ticket = waiter_arm(&p->w);
		p->payload = i;
		if (mailbox_post(&mb, &p->msg) < 0)
			break;
		if (waiter_wait(&p->w, 5000) != (int)i + 1)
			p->wrong++;
		else
			p->answered++;
	}
	return NULL;
}

static void stress(unsigned spin_us)
{
	pthread_t reactor, t[POSTERS];
	unsigned i;

	for (i = 0; i < POSTERS; i++) {
		posters[i] = (struct poster){ .msg = { .handler = stress_handler,
						       .opaque = &posters[i] } };
		cr_assert_eq(waiter_init(&posters[i].w), 0);
		posters[i].w.spin_us = spin_us;
	}
	cr_assert_eq(pthread_create(&reactor, NULL, reactor_thread, NULL), 0);
	for (i = 0; i < POSTERS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, poster_thread, &posters[i]), 0);
	for (i = 0; i < POSTERS; i++)
		pthread_join(t[i], NULL);
	reactor_stop = true;
	pthread_join(reactor, NULL);
	for (i = 0; i < POSTERS; i++) {
		struct poster *p = &posters[i];

		cr_expect_eq(p->answered, ROUNDS, "poster %u: %u answered", i, p->answered);
		cr_expect_eq(p->wrong, 0, "poster %u: %u wrong or missing answers", i, p->wrong);
		cr_expect_eq(p->handled, ROUNDS, "poster %u: handled %u times", i, p->handled);
		cr_expect_eq(p->late, 0, "poster %u: %u completions refused", i, p->late);
		waiter_fini(&p->w);
	}
	cr_assert_eq(total_handled, POSTERS * ROUNDS);
	cr_assert_eq(mb.posted, POSTERS * ROUNDS);
	cr_assert_eq(mb.handled, POSTERS * ROUNDS);
	cr_assert_eq(mailbox_drain(&mb), 0, "messages left over");
}

Test(mailbox, stress_every_call_is_answered_exactly_once, .timeout = 30)
{
	stress(0);
}

Test(mailbox, stress_with_spinning_waiters_every_call_is_answered_once, .timeout = 30)
{
	stress(50);
}
