/*
 * Policy files (format in docs/cli.md): one JSON object with "version" (1)
 * and "rules", each rule a GPA range or a GVA range with its CR3, the rights
 * allowed and what a violation does. Every error names the file and the line
 * (syntax) or the key (meaning), and nothing is applied.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kvmi_tool.h"
#include "policy.h"

#define POLICY_MAX_FILE (4u << 20)

struct perr {
	char *buf;
	size_t len;
	const char *file;
};

static int fail(struct perr *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct perr *pe, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(pe->buf, pe->len, "%s: ", pe->file);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < pe->len)
		vsnprintf(pe->buf + n, pe->len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *policy_action_name(enum policy_action a)
{
	return a == POLICY_CRASH ? "crash" : a == POLICY_DENY ? "deny" : "log";
}

static int read_file(const char *path, char **out, size_t *len, struct perr *pe)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int err;

	if (!f) {
		err = -errno;
		snprintf(pe->buf, pe->len, "%s: %s", path, strerror(errno));
		return err;
	}
	buf = malloc(POLICY_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, POLICY_MAX_FILE + 1, f);
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!err && n > POLICY_MAX_FILE)
		err = fail(pe, "larger than %u bytes", POLICY_MAX_FILE);
	else if (err)
		snprintf(pe->buf, pe->len, "%s: read error", path);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Syntax errors: line and column from the tokenizer's stop offset. */
static int parse_json(const char *text, size_t len, json_object **root, struct perr *pe)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error je;
	size_t off, i, line = 1, col = 1;

	if (!tok)
		return -ENOMEM;
	*root = json_tokener_parse_ex(tok, text, (int)len);
	je = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	if (!*root && je == json_tokener_continue)
		je = json_tokener_error_parse_eof;
	json_tokener_free(tok);
	if (*root && je == json_tokener_success) {
		for (i = off; i < len && strchr(" \t\r\n", text[i]); i++)
			;
		if (i == len)
			return 0;
		json_object_put(*root);
		*root = NULL;
		off = i;
		for (i = 0; i < off; i++, col++)
			if (text[i] == '\n')
				line++, col = 0;
		return fail(pe, "line %zu, column %zu: unexpected text after the policy object",
			    line, col);
	}
	for (i = 0; i < off && i < len; i++, col++)
		if (text[i] == '\n')
			line++, col = 0;
	return fail(pe, "line %zu, column %zu: invalid JSON: %s", line, col,
		    json_tokener_error_desc(je));
}

/* An address or size: JSON integer >= 0, or a string "0x..." / "4K". */
static int get_u64(json_object *v, const char *key, bool suffix, uint64_t *out, struct perr *pe)
{
	const char *s;
	int64_t i;

	if (json_object_is_type(v, json_type_int)) {
		i = json_object_get_int64(v);
		if (i < 0)
			return fail(pe, "%s: must not be negative", key);
		*out = (uint64_t)i;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(pe, "%s: expected a number or a string such as \"0x1000\"%s", key,
			    suffix ? " or \"4K\"" : "");
	s = json_object_get_string(v);
	if (vk_parse_u64(s, suffix, out) < 0)
		return fail(pe, "%s: \"%s\" is not a %s", key, s,
			    suffix ? "size (number with optional K, M or G)" : "number");
	return 0;
}

static int get_allow(json_object *v, const char *key, uint8_t *out, struct perr *pe)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return fail(pe, "%s: expected a string of rights such as \"rx\"", key);
	s = json_object_get_string(v);
	*out = 0;
	if (!strcmp(s, "-"))
		return 0;
	for (const char *p = s; *p; p++) {
		uint8_t bit = *p == 'r' ? VIGIL_KVMI_PAGE_R : *p == 'w' ? VIGIL_KVMI_PAGE_W :
			      *p == 'x' ? VIGIL_KVMI_PAGE_X : 0;

		if (!bit)
			return fail(pe, "%s: \"%s\": unknown right '%c' (use r, w, x, or \"-\" for none)",
				    key, s, *p);
		if (*out & bit)
			return fail(pe, "%s: \"%s\": right '%c' given twice", key, s, *p);
		*out |= bit;
	}
	return 0;
}

static int get_action(json_object *v, const char *key, enum policy_action *out, struct perr *pe)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

	if (s && !strcmp(s, "deny"))
		*out = POLICY_DENY;
	else if (s && !strcmp(s, "log"))
		*out = POLICY_LOG;
	else if (s && !strcmp(s, "crash"))
		*out = POLICY_CRASH;
	else
		return fail(pe, "%s: expected \"deny\", \"log\" or \"crash\"", key);
	return 0;
}

struct rule_keys {
	json_object *name, *gpa, *gva, *cr3, *size, *allow, *on;
};

static int rule_keys(json_object *r, const char *where, struct rule_keys *k, struct perr *pe)
{
	memset(k, 0, sizeof(*k));
	if (!json_object_is_type(r, json_type_object))
		return fail(pe, "%s: expected an object", where);
	json_object_object_foreach(r, key, val) {
		json_object **slot = !strcmp(key, "name") ? &k->name : !strcmp(key, "gpa") ? &k->gpa :
				     !strcmp(key, "gva") ? &k->gva : !strcmp(key, "cr3") ? &k->cr3 :
				     !strcmp(key, "size") ? &k->size : !strcmp(key, "allow") ? &k->allow :
				     !strcmp(key, "on_violation") ? &k->on : NULL;

		if (!slot)
			return fail(pe, "%s.%s: unknown key (expected name, gpa or gva, cr3, size, "
				    "allow, on_violation)", where, key);
		*slot = val;
	}
	if (!k->gpa == !k->gva)
		return fail(pe, "%s: give exactly one of \"gpa\" and \"gva\"", where);
	if (k->gva && !k->cr3)
		return fail(pe, "%s.cr3: required with \"gva\" (the address space the range "
			    "belongs to)", where);
	if (k->gpa && k->cr3)
		return fail(pe, "%s.cr3: only meaningful with \"gva\"", where);
	if (!k->size)
		return fail(pe, "%s.size: missing", where);
	if (!k->allow)
		return fail(pe, "%s.allow: missing (rights allowed, e.g. \"r\" or \"rw\")", where);
	if (k->name && !json_object_is_type(k->name, json_type_string))
		return fail(pe, "%s.name: expected a string", where);
	return 0;
}

static int parse_rule(json_object *r, size_t idx, struct policy_rule *out, struct perr *pe)
{
	char where[32], key[48];
	struct rule_keys k;
	uint64_t size;

	snprintf(where, sizeof(where), "rules[%zu]", idx);
	if (rule_keys(r, where, &k, pe))
		return -EINVAL;
	snprintf(out->name, sizeof(out->name), "%s", k.name ? json_object_get_string(k.name) : where);
	out->virt = k.gva != NULL;
	snprintf(key, sizeof(key), "%s.%s", where, out->virt ? "gva" : "gpa");
	if (get_u64(out->virt ? k.gva : k.gpa, key, false, &out->start, pe))
		return -EINVAL;
	snprintf(key, sizeof(key), "%s.cr3", where);
	if (out->virt && get_u64(k.cr3, key, false, &out->cr3, pe))
		return -EINVAL;
	snprintf(key, sizeof(key), "%s.size", where);
	if (get_u64(k.size, key, true, &size, pe))
		return -EINVAL;
	if (!size)
		return fail(pe, "%s: must not be 0", key);
	if (out->start + size < out->start || (!out->virt && out->start + size > (1ull << 52)))
		return fail(pe, "%s: the range 0x%llx + 0x%llx is outside the %s address space", key,
			    (unsigned long long)out->start, (unsigned long long)size,
			    out->virt ? "virtual" : "physical");
	if (size > (uint64_t)POLICY_MAX_PAGES * 4096)
		return fail(pe, "%s: larger than %u MiB", key, POLICY_MAX_PAGES / 256);
	out->end = out->start + size;
	snprintf(key, sizeof(key), "%s.allow", where);
	if (get_allow(k.allow, key, &out->allow, pe))
		return -EINVAL;
	out->on_violation = POLICY_DENY;
	snprintf(key, sizeof(key), "%s.on_violation", where);
	if (k.on && get_action(k.on, key, &out->on_violation, pe))
		return -EINVAL;
	return 0;
}

static int parse_top(json_object *root, struct policy *p, struct perr *pe)
{
	json_object *rules = NULL, *ver = NULL;
	size_t n, pages = 0;

	if (!json_object_is_type(root, json_type_object))
		return fail(pe, "expected a JSON object with \"version\" and \"rules\"");
	json_object_object_foreach(root, key, val) {
		if (!strcmp(key, "rules"))
			rules = val;
		else if (!strcmp(key, "version"))
			ver = val;
		else
			return fail(pe, "%s: unknown key (expected version, rules)", key);
	}
	if (ver && (!json_object_is_type(ver, json_type_int) || json_object_get_int64(ver) != 1))
		return fail(pe, "version: this vigil reads version 1 policies");
	if (!rules || !json_object_is_type(rules, json_type_array))
		return fail(pe, "rules: missing or not an array");
	n = json_object_array_length(rules);
	if (!n || n > POLICY_MAX_RULES)
		return fail(pe, "rules: expected 1 to %u rules, found %zu", POLICY_MAX_RULES, n);
	p->rules = calloc(n, sizeof(*p->rules));
	if (!p->rules)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++, p->nr++) {
		struct policy_rule *r = &p->rules[i];

		if (parse_rule(json_object_array_get_idx(rules, i), i, r, pe))
			return -EINVAL;
		pages += ((r->end + 4095) >> 12) - (r->start >> 12);
		if (pages > POLICY_MAX_PAGES)
			return fail(pe, "rules: more than %u pages in all", POLICY_MAX_PAGES);
	}
	return 0;
}

int policy_load(const char *file, struct policy **out, char *err, size_t errlen)
{
	struct perr pe = { .buf = err, .len = errlen, .file = file };
	json_object *root = NULL;
	struct policy *p;
	char *text = NULL;
	size_t len = 0;
	int r;

	r = read_file(file, &text, &len, &pe);
	if (r)
		return r;
	r = parse_json(text, len, &root, &pe);
	free(text);
	if (r)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->file = strdup(file))) {
		free(p);
		json_object_put(root);
		return -ENOMEM;
	}
	r = parse_top(root, p, &pe);
	json_object_put(root);
	if (r) {
		policy_free(&p);
		return r;
	}
	*out = p;
	return 0;
}

void policy_free(struct policy **pp)
{
	struct policy *p = *pp;

	if (!p)
		return;
	for (size_t i = 0; i < p->nr; i++)
		free(p->rules[i].gpas);
	free(p->rules);
	free(p->file);
	free(p);
	*pp = NULL;
}
