/*
 * Output of vigil trace / vigil policy: a live table or JSON lines on
 * stdout (schema in docs/cli.md), per-kind counters at the end, and an
 * optional Chrome trace-event file (--timeline) that Perfetto and
 * chrome://tracing show as one lane per vCPU.
 */
#ifndef VIGIL_TRACE_OUT_H
#define VIGIL_TRACE_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil_kvmi.h"

struct trace_out;

/* What the tool did with an event. */
struct trace_verdict {
	const char *action;        /* "allow", "skip", "crash", "retry+#PF", ... */
	const char *rule;          /* policy rule that was violated, or NULL */
	const char *on_violation;  /* its on_violation ("deny", "log", "crash") */
	const char *note;          /* extra text, or NULL */
};

/* Open the outputs; the timeline file is created now (-errno). */
int trace_out_open(struct trace_out **t, bool json, const char *timeline);
/* Print one event received @ts seconds after the start. @show false counts
 * it without printing it (policy mode hides allowed accesses). */
void trace_out_event(struct trace_out *t, double ts, const struct vigil_kvmi_ev *ev,
		     const struct trace_verdict *v, bool show);
/* A line of commentary (table: "# text"; JSON: {"event":"note",...}). */
void trace_out_note(struct trace_out *t, double ts, const char *text);
/* Counters (table) or the summary object (JSON; none if @reason is NULL),
 * close the timeline, free.
 * Returns -errno if the timeline could not be written completely. */
int trace_out_close(struct trace_out **t, double ts, const char *reason);
/* Events seen so far of @kind, and policy violations. */
uint64_t trace_out_count(const struct trace_out *t, unsigned kind);
uint64_t trace_out_violations(const struct trace_out *t);

#endif
