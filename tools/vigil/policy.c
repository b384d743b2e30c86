/* Policies: translation of GVA rules, page restrictions, verdicts (policy.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmi_tool.h"
#include "policy.h"

#define PAGE_MASK (~0xfffull)

static size_t rule_pages(const struct policy_rule *r)
{
	return (size_t)(((r->end + 4095) >> 12) - (r->start >> 12));
}

static int translate_rule(struct policy_rule *r, struct vigil_kvmi *c, char *err, size_t errlen)
{
	size_t n = rule_pages(r);
	uint64_t va = r->start & PAGE_MASK;
	int rc;

	r->gpas = calloc(n, sizeof(*r->gpas));
	if (!r->gpas)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++, va += 4096) {
		rc = vk_walk(c, r->cr3, va, &r->gpas[i]);
		if (rc == -EFAULT) {
			snprintf(err, errlen, "rule '%s': gva 0x%llx is not mapped by the page tables "
				 "at cr3 0x%llx", r->name, (unsigned long long)va,
				 (unsigned long long)r->cr3);
			return rc;
		}
		if (rc < 0) {
			snprintf(err, errlen, "rule '%s': reading the page tables at cr3 0x%llx: %s",
				 r->name, (unsigned long long)r->cr3, strerror(-rc));
			return rc;
		}
		r->gpas[i] &= PAGE_MASK;
	}
	r->nr_pages = n;
	return 0;
}

int policy_translate(struct policy *p, struct vigil_kvmi *c, char *err, size_t errlen)
{
	int rc;

	for (size_t i = 0; i < p->nr; i++) {
		if (!p->rules[i].virt)
			continue;
		rc = translate_rule(&p->rules[i], c, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct vigil_kvmi_page_entry *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

void policy_pages_normalize(struct vigil_kvmi_page_entry *e, size_t *n)
{
	size_t out = 0;

	if (!*n)
		return;
	qsort(e, *n, sizeof(*e), cmp_entry);
	for (size_t i = 1; i < *n; i++) {
		if (e[i].gpa == e[out].gpa)
			e[out].access &= e[i].access;
		else
			e[++out] = e[i];
	}
	*n = out + 1;
}

int policy_pages(const struct policy *p, struct vigil_kvmi_page_entry **ep, size_t *np)
{
	size_t total = *np;
	struct vigil_kvmi_page_entry *e;

	for (size_t i = 0; i < p->nr; i++)
		total += rule_pages(&p->rules[i]);
	e = realloc(*ep, (total ? total : 1) * sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < p->nr; i++) {
		const struct policy_rule *r = &p->rules[i];
		size_t n = rule_pages(r);

		for (size_t j = 0; j < n; j++) {
			memset(&e[*np], 0, sizeof(e[*np]));
			e[*np].gpa = r->virt ? r->gpas[j] : (r->start & PAGE_MASK) + j * 4096;
			e[*np].access = r->allow;
			(*np)++;
		}
	}
	*ep = e;
	policy_pages_normalize(e, np);
	return 0;
}

/* Does @r cover the guest-physical byte @gpa? */
static bool rule_covers(const struct policy_rule *r, uint64_t gpa)
{
	uint64_t page = gpa & PAGE_MASK, va;

	if (!r->virt)
		return gpa >= r->start && gpa < r->end;
	for (size_t i = 0; i < r->nr_pages; i++) {
		if (r->gpas[i] != page)
			continue;
		va = (r->start & PAGE_MASK) + i * 4096 + (gpa & 0xfff);
		if (va >= r->start && va < r->end)
			return true;
	}
	return false;
}

const struct policy_rule *policy_check(const struct policy *p, uint64_t gpa, unsigned len,
				       uint8_t access)
{
	const struct policy_rule *worst = NULL;
	uint64_t last = gpa + (len ? len - 1 : 0);

	for (size_t i = 0; p && i < p->nr; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (r->allow & access)
			continue;
		if (!rule_covers(r, gpa) && !rule_covers(r, last))
			continue;
		if (!worst || r->on_violation > worst->on_violation)
			worst = r;
	}
	return worst;
}
