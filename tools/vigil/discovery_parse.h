/*
 * Reading and validating one backend descriptor file (internal to the
 * discovery library; separate so that a fuzzer can drive the parser on a
 * buffer). Never prints: every failure returns -errno and one line in @why.
 */
#ifndef VIGIL_DISCOVERY_PARSE_H
#define VIGIL_DISCOVERY_PARSE_H

#include <stddef.h>

#include "discovery.h"

/* Descriptors are a few hundred bytes; anything past this is refused. */
#define DESCRIPTOR_MAX_SIZE (64 * 1024)

/* descriptor_read's positive return: the file masks its basename. */
#define DESCRIPTOR_MASKED 1

struct descriptor_text {
	char *buf;      /* NUL-terminated copy of the file (owned by the caller) */
	size_t len;     /* bytes in the file, without the added NUL */
};

/*
 * Open @path (following symlinks) and read it. Returns 0 with @text filled,
 * DESCRIPTOR_MASKED for a zero-length file or /dev/null, or -errno:
 * the open/read error, -EISDIR for a directory, -EINVAL for another file
 * type, -EFBIG past DESCRIPTOR_MAX_SIZE, -ENOMEM.
 */
int descriptor_read(const char *path, struct descriptor_text *text, char *why,
		    size_t why_len);

/*
 * Parse @text as a descriptor and fill the DISCOVERY_OK members of @e
 * (description, type, binary, tags). Returns 0, -EINVAL for text that is not
 * a valid descriptor (the line and column of a syntax error are in @why), or
 * -ENOMEM. On failure @e's descriptor members are left NULL.
 */
int descriptor_parse(const struct descriptor_text *text, struct discovery_entry *e,
		     char *why, size_t why_len);

#endif
