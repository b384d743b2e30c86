/*
 * vCPU -> reactor mailbox and the vCPU's wake-up primitive.
 *
 * A vCPU thread that needs a decision posts a message: the message joins a
 * mutex-protected queue and one 8-byte write goes to an eventfd the reactor
 * watches (memcached's pattern). The reactor reads the eventfd, pops at most
 * that many messages and runs each message's handler in the reactor thread.
 * The handler, or anything later in the reactor, answers with waiter_complete.
 *
 * The vCPU sleeps on its own waiter (mutex + condition variable). A waiter can
 * be cancelled (shutdown): cancellation is sticky, so a wait that starts after
 * it returns at once. Each arm hands out a ticket, and a completion carrying
 * an old ticket is ignored, so a late answer can never wake a later wait.
 */
#ifndef VIGIL_MAILBOX_H
#define VIGIL_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

struct mbox_msg;
typedef void (*mbox_handler_fn)(struct mbox_msg *msg);

struct mbox_msg {
	TAILQ_ENTRY(mbox_msg) link;
	mbox_handler_fn handler;  /* runs in the reactor thread */
	void *opaque;
	bool queued;              /* owned by the mailbox: posted, not yet popped */
};

/* Every message must start out initialised (zeroed or with this). */
static inline void mbox_msg_init(struct mbox_msg *msg, mbox_handler_fn handler, void *opaque)
{
	msg->handler = handler;
	msg->opaque = opaque;
	msg->queued = false;
}

struct mailbox {
	pthread_mutex_t lock;
	TAILQ_HEAD(, mbox_msg) queue;
	int efd;
	bool closed;
	uint64_t posted, handled;
};

int mailbox_init(struct mailbox *mb);
/* Messages still queued are dropped (their senders are cancelled separately). */
void mailbox_fini(struct mailbox *mb);
/* Any thread. -EPIPE once closed. Posting a message that is still queued
 * is a no-op: it is handled once, with its contents at that time. */
int mailbox_post(struct mailbox *mb, struct mbox_msg *msg);
/* Reactor: consume the eventfd count and run up to that many handlers.
 * Returns the number handled. */
unsigned mailbox_drain(struct mailbox *mb);
/* Stop accepting posts; queued messages are still drained. */
void mailbox_close(struct mailbox *mb);
static inline int mailbox_fd(const struct mailbox *mb) { return mb->efd; }

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t ticket;     /* current arm */
	_Atomic bool done;   /* written under lock, may be polled without it */
	unsigned spin_us;    /* poll this long before sleeping (0: never) */
	bool cancelled;
	int result;
};

int waiter_init(struct waiter *w);
void waiter_fini(struct waiter *w);
/* Prepare for one wait; returns the ticket the answer must carry. */
uint64_t waiter_arm(struct waiter *w);
/* Block until completed, cancelled (-ECANCELED) or @timeout_ms passes.
 * Answers that come within spin_us are picked up without sleeping: putting a
 * vCPU thread to sleep and waking it costs more than the hand-off itself
 * (-ETIMEDOUT; < 0 means no timeout). Returns the completion's result. */
int waiter_wait(struct waiter *w, int timeout_ms);
/* Answer; ignored (returns false) if @ticket is not the current arm. */
bool waiter_complete(struct waiter *w, uint64_t ticket, int result);
void waiter_cancel(struct waiter *w);
bool waiter_is_cancelled(struct waiter *w);

#endif
