/*
 * Device DMA in vigil trace / vigil policy. vigild reports every access of a
 * traced device (vfio-user, trace-dma=on) to guest memory. One the page
 * policy allows is a notification: shown with --dma, never answered. One it
 * denies makes the device wait for the answer: vigil trace allows it (tracing
 * never changes what happens); vigil policy applies the violated rule's
 * on_violation (deny: the device gets EACCES; log: allowed; crash).
 */
#include <errno.h>
#include <limits.h>

#include "trace_out.h"
#include "trace_run.h"

/* The verdict of @p on a denied DMA; fills @v. */
static unsigned dma_policy(const struct policy *p, const struct vigil_kvmi_event_dma *d,
			   struct trace_verdict *v)
{
	uint8_t access = d->direction == VIGIL_KVMI_DMA_WRITE ? VIGIL_KVMI_PAGE_W :
								VIGIL_KVMI_PAGE_R;
	unsigned len = d->len > UINT_MAX ? UINT_MAX : (unsigned)d->len;
	const struct policy_rule *rule = policy_check(p, d->gpa, len, access);

	v->action = "allow";
	if (!rule)
		return VIGIL_KVMI_ACTION_ALLOW;   /* only --pages watches the page */
	v->rule = rule->name;
	v->on_violation = policy_action_name(rule->on_violation);
	switch (rule->on_violation) {
	case POLICY_DENY:
		v->action = "deny";
		return VIGIL_KVMI_ACTION_SKIP;
	case POLICY_CRASH:
		v->action = "crash";
		return VIGIL_KVMI_ACTION_CRASH;
	default:
		return VIGIL_KVMI_ACTION_ALLOW;
	}
}

int trace_dma_event(struct trace_out *out, const struct trace_opts *o, struct vigil_kvmi *c,
		    const struct vigil_kvmi_ev *ev, double ts)
{
	struct trace_verdict v = { .action = "allowed" };   /* by the policy: no answer */
	unsigned action;
	int r;

	if (!vigil_kvmi_event_needs_reply(ev)) {
		trace_out_event(out, ts, ev, &v, o->dma);
		return 0;
	}
	action = dma_policy(o->policy, &ev->u.dma, &v);
	trace_out_event(out, ts, ev, &v, o->dma || v.rule);
	r = vigil_kvmi_reply_event(c, ev, action, 0, 0, NULL, 0);
	return r == -ENOENT ? 0 : r;   /* too late: vigild already denied it */
}
