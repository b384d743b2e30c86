/*
 * Page-access policies for vigil policy: the file format (docs/cli.md),
 * parsed with json-c; GVA ranges translated through their CR3; the page
 * restrictions to install; and the verdict for an access.
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil_kvmi.h"

#define POLICY_MAX_RULES 256
#define POLICY_MAX_PAGES (1u << 18)   /* 1 GiB of 4 KiB pages over all rules */

enum policy_action {
	POLICY_LOG = 0,    /* ALLOW, report */
	POLICY_DENY = 1,   /* the access does not happen (SKIP; execution faults) */
	POLICY_CRASH = 2,  /* stop the VM */
};

struct policy_rule {
	char name[64];
	bool virt;                  /* gva + cr3, else gpa */
	uint64_t start, end, cr3;   /* [start, end) */
	uint8_t allow;              /* VIGIL_KVMI_PAGE_* allowed */
	enum policy_action on_violation;
	uint64_t *gpas;             /* virt: physical page of each page of the range */
	size_t nr_pages;
};

struct policy {
	char *file;
	struct policy_rule *rules;
	size_t nr;
};

/* Parse @file. On error returns -EINVAL (or -errno for I/O) with a message
 * naming the file and the line or key in @err. */
int policy_load(const char *file, struct policy **out, char *err, size_t errlen);
void policy_free(struct policy **p);
const char *policy_action_name(enum policy_action a);

/* Translate every GVA rule through its CR3 (guest page tables, read over
 * @c). -EFAULT with a message if a page is not mapped. */
int policy_translate(struct policy *p, struct vigil_kvmi *c, char *err, size_t errlen);

/* The page restrictions of @p (sorted, one entry per page, rights ANDed)
 * merged into *e / *n (which may already hold entries). */
int policy_pages(const struct policy *p, struct vigil_kvmi_page_entry **e, size_t *n);
/* Sort by page, AND the rights of duplicates. */
void policy_pages_normalize(struct vigil_kvmi_page_entry *e, size_t *n);

/* The strictest rule that forbids @access to [gpa, gpa+len), or NULL. */
const struct policy_rule *policy_check(const struct policy *p, uint64_t gpa, unsigned len,
				       uint8_t access);

#endif
