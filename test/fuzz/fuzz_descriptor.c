/*
 * Fuzz target: backend descriptor files (tools/vigil/discovery_parse.h), the
 * parser `vigil backends` and discovery_scan run on every file they find.
 * A success must fill every mandatory member with the documented rules; a
 * failure must leave them NULL and give a reason.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery_parse.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void clear(struct discovery_entry *e)
{
	free(e->description);
	free(e->type);
	free(e->binary);
	for (size_t i = 0; i < e->nr_tags; i++)
		free(e->tags[i]);
	free(e->tags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct discovery_entry e;
	struct descriptor_text text;
	char why[256] = "";
	int r;

	if (size > DESCRIPTOR_MAX_SIZE)
		return 0;   /* descriptor_read refuses these before parsing */
	/* descriptor_read hands the parser a NUL-terminated copy; the input
	 * itself may contain NULs. */
	text.buf = malloc(size + 1);
	FUZZ_CHECK(text.buf, "malloc");
	memcpy(text.buf, data, size);
	text.buf[size] = '\0';
	text.len = size;
	memset(&e, 0, sizeof(e));
	r = descriptor_parse(&text, &e, why, sizeof(why));
	if (r == 0) {
		FUZZ_CHECK(e.type && e.type[0] && e.binary && e.binary[0] == '/',
			   "accepted without a type or an absolute binary");
		FUZZ_CHECK(e.nr_tags == 0 || e.tags, "tags");
		for (size_t i = 0; i < e.nr_tags; i++)
			FUZZ_CHECK(e.tags[i], "tag %zu is NULL", i);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "unexpected error %d", r);
		FUZZ_CHECK(why[0], "error %d without a reason", r);
		FUZZ_CHECK(!e.type && !e.binary && !e.description && !e.tags,
			   "members left after a failure");
	}
	clear(&e);
	free(text.buf);
	return 0;
}
