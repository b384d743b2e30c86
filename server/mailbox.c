/* vCPU -> reactor mailbox (queue + eventfd) and the per-vCPU waiter. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"
#include "monotonic.h"

int mailbox_init(struct mailbox *mb)
{
	int err;

	mb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->efd < 0)
		return -errno;
	err = pthread_mutex_init(&mb->lock, NULL);
	if (err) {
		close(mb->efd);
		return -err;
	}
	TAILQ_INIT(&mb->queue);
	mb->closed = false;
	mb->posted = mb->handled = 0;
	return 0;
}

void mailbox_fini(struct mailbox *mb)
{
	if (mb->efd < 0)
		return;
	pthread_mutex_destroy(&mb->lock);
	close(mb->efd);
	mb->efd = -1;
}

int mailbox_post(struct mailbox *mb, struct mbox_msg *msg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&mb->lock);
	if (mb->closed) {
		pthread_mutex_unlock(&mb->lock);
		return -EPIPE;
	}
	if (msg->queued) {
		pthread_mutex_unlock(&mb->lock);
		return 0;
	}
	msg->queued = true;
	TAILQ_INSERT_TAIL(&mb->queue, msg, link);
	mb->posted++;
	pthread_mutex_unlock(&mb->lock);
	/* The counter cannot overflow in practice; EAGAIN would only mean the
	 * reactor already has a wake-up pending. */
	if (write(mb->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static struct mbox_msg *mailbox_pop(struct mailbox *mb)
{
	struct mbox_msg *msg;

	pthread_mutex_lock(&mb->lock);
	msg = TAILQ_FIRST(&mb->queue);
	if (msg) {
		TAILQ_REMOVE(&mb->queue, msg, link);
		msg->queued = false;
		mb->handled++;
	}
	pthread_mutex_unlock(&mb->lock);
	return msg;
}

unsigned mailbox_drain(struct mailbox *mb)
{
	uint64_t count = 0, i;
	struct mbox_msg *msg;

	if (read(mb->efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	/* Pop at most what we were told about: a message posted after the
	 * read comes with its own wake-up. */
	for (i = 0; i < count; i++) {
		msg = mailbox_pop(mb);
		if (!msg)
			break;
		msg->handler(msg);
	}
	return (unsigned)i;
}

void mailbox_close(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->lock);
	mb->closed = true;
	pthread_mutex_unlock(&mb->lock);
}

int waiter_init(struct waiter *w)
{
	int err;

	err = pthread_mutex_init(&w->lock, NULL);
	if (err)
		return -err;
	err = cond_init_monotonic(&w->cond);
	if (err) {
		pthread_mutex_destroy(&w->lock);
		return err;
	}
	w->ticket = 0;
	w->done = false;
	w->cancelled = false;
	w->result = 0;
	w->spin_us = 0;
	return 0;
}

void waiter_fini(struct waiter *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

uint64_t waiter_arm(struct waiter *w)
{
	uint64_t t;

	pthread_mutex_lock(&w->lock);
	t = ++w->ticket;
	w->done = false;
	w->result = 0;
	pthread_mutex_unlock(&w->lock);
	return t;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void waiter_spin(struct waiter *w)
{
	uint64_t end;

	if (!w->spin_us)
		return;
	end = mono_ns() + w->spin_us * 1000ULL;
	while (!atomic_load_explicit(&w->done, memory_order_acquire) && mono_ns() < end)
		__builtin_ia32_pause();
}

int waiter_wait(struct waiter *w, int timeout_ms)
{
	struct timespec deadline;
	int r = 0;

	waiter_spin(w);

	if (timeout_ms >= 0)
		deadline_after_ms(&deadline, timeout_ms);
	pthread_mutex_lock(&w->lock);
	while (!w->done && !w->cancelled && r != ETIMEDOUT) {
		if (timeout_ms >= 0)
			r = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
		else
			pthread_cond_wait(&w->cond, &w->lock);
	}
	if (w->done)
		r = w->result;
	else if (w->cancelled)
		r = -ECANCELED;
	else
		r = -ETIMEDOUT;
	/* Whatever happened, this arm is over: a late answer must not count. */
	w->ticket++;
	pthread_mutex_unlock(&w->lock);
	return r;
}

bool waiter_complete(struct waiter *w, uint64_t ticket, int result)
{
	bool ok;

	pthread_mutex_lock(&w->lock);
	ok = ticket == w->ticket && !w->done;
	if (ok) {
		w->done = true;
		w->result = result;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return ok;
}

void waiter_cancel(struct waiter *w)
{
	pthread_mutex_lock(&w->lock);
	w->cancelled = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

bool waiter_is_cancelled(struct waiter *w)
{
	bool c;

	pthread_mutex_lock(&w->lock);
	c = w->cancelled;
	pthread_mutex_unlock(&w->lock);
	return c;
}
