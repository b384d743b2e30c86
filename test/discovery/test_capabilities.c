/*
 * vigild --print-capabilities: the probes against this machine's KVM, the
 * feature list derived from them, and the option's contract (JSON on stdout,
 * exit 0 whatever else is on the command line, even without KVM).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "capabilities.h"
#include "spawn_util.h"

/* Parse capabilities JSON; checks the shape and returns the features array. */
static struct json_object *parse_caps(const char *text, struct json_object **root)
{
	struct json_object *obj = json_tokener_parse(text), *type, *features;

	cr_assert(obj && json_object_is_type(obj, json_type_object), "not an object: %s", text);
	cr_assert(json_object_object_get_ex(obj, "type", &type));
	cr_assert_str_eq(json_object_get_string(type), "vmm");
	cr_assert(json_object_object_get_ex(obj, "features", &features));
	cr_assert(json_object_is_type(features, json_type_array));
	cr_assert_eq(json_object_object_length(obj), 2, "only type and features: %s", text);
	*root = obj;
	return features;
}

static bool has(struct json_object *features, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(features); i++) {
		if (!strcmp(json_object_get_string(json_object_array_get_idx(features, i)), name))
			return true;
	}
	return false;
}

/* capabilities_write(@caps) into a string. */
static void write_caps(const struct host_caps *caps, char *buf, size_t size)
{
	FILE *f = fmemopen(buf, size, "w");

	cr_assert_not_null(f);
	cr_assert_eq(capabilities_write(f, caps), 0);
	fclose(f);
}

Test(capabilities, missing_kvm_device_still_reports_the_build)
{
	struct json_object *root, *features;
	struct host_caps caps;
	char buf[4096];

	capabilities_probe(&caps, "/nonexistent/kvm");
	cr_assert(!caps.kvm);
	cr_assert(strstr(caps.why, "/nonexistent/kvm"), "why: %s", caps.why);
	cr_assert(!caps.step_cpl0 && !caps.msr_filter && !caps.readonly_mem);
	write_caps(&caps, buf, sizeof(buf));
	features = parse_caps(buf, &root);
	cr_assert(!has(features, "kvm"));
	for (size_t i = 0; i < json_object_array_length(features); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(features, i));

		cr_assert(strncmp(f, "event-", 6), "%s without KVM", f);
	}
	json_object_put(root);
}

Test(capabilities, features_are_unique_strings)
{
	struct json_object *root, *features;
	char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	cr_assert_eq(capabilities_print(f), 0);
	fclose(f);
	features = parse_caps(buf, &root);
	for (size_t i = 0; i < json_object_array_length(features); i++) {
		struct json_object *v = json_object_array_get_idx(features, i);

		cr_assert(json_object_is_type(v, json_type_string));
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(json_object_get_string(v),
					  json_object_get_string(json_object_array_get_idx(features, j)));
	}
	json_object_put(root);
}

static bool on_kvm_pvm(void)
{
	struct stat st;

	return stat("/sys/module/kvm_pvm", &st) == 0;
}

/* The behaviour measured in shared/docs/kvm-platform.md, found again by trying. */
Test(capabilities, probes_find_what_kvm_pvm_is_documented_to_do)
{
	struct host_caps c;

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("no usable /dev/kvm: %s", strerror(errno));
	if (!on_kvm_pvm())
		cr_skip_test("host KVM is not kvm_pvm: expectations are recorded for kvm_pvm only");
	capabilities_probe(&c, NULL);
	cr_assert(c.kvm, "%s", c.why);
	cr_assert_str_eq(c.why, "", "a probe failed to run: %s", c.why);
	cr_assert(c.msr_filter, "MSR filter exits");
	cr_assert(c.readonly_mem, "writes to read-only slots exit");
	cr_assert(c.exec_hole_cpl0 && c.exec_hole_cpl3, "fetch from a hole: internal error");
	cr_assert(c.step_cpl0, "single-step works at CPL0");
	cr_assert(!c.step_cpl3, "single-step does not work at CPL3 (user code runs natively)");
	cr_assert(c.hw_breakpoint && !c.hw_breakpoint_cpl3, "debug registers at CPL0 only");
	cr_assert(!c.sw_breakpoint, "int3 is not reported (KVM_GUESTDBG_USE_SW_BP)");
	cr_assert(c.exception_payload);
	cr_assert(c.msi, "KVM_CAP_IRQ_ROUTING and KVM_CAP_SIGNAL_MSI");
	cr_assert(!c.hyperv_synic, "kvm_pvm has no Hyper-V emulation");
}

/* Is @name one of this build's features (whatever the host has)? */
static bool built_with(const char *name)
{
	struct host_caps none = { 0 };
	struct json_object *root, *features;
	char buf[4096];
	bool r;

	write_caps(&none, buf, sizeof(buf));
	features = parse_caps(buf, &root);
	r = has(features, name);
	json_object_put(root);
	return r;
}

static bool built_with_introspection(void)
{
	return built_with("introspection");
}

Test(capabilities, event_features_follow_the_probes)
{
	struct host_caps c = { .kvm = true, .step_cpl0 = true, .hw_breakpoint = true,
			       .exec_hole_cpl0 = true, .exec_hole_cpl3 = true,
			       .readonly_mem = true };
	struct json_object *root, *features;
	char buf[4096];

	if (!built_with_introspection())
		cr_skip_test("this build has no introspection server (kvmi/): no event features");
	write_caps(&c, buf, sizeof(buf));
	features = parse_caps(buf, &root);
	cr_assert(has(features, "kvm") && has(features, "event-pause"));
	cr_assert(has(features, "event-cr") && has(features, "event-singlestep"));
	cr_assert(has(features, "singlestep-cpl0-only"));
	cr_assert(has(features, "breakpoint-cpl0-only"));
	cr_assert(has(features, "event-pf-write") && has(features, "event-pf-exec"));
	cr_assert(has(features, "pf-exec-allow-imprecise-cpl3"));
	cr_assert(!has(features, "event-msr"), "no MSR filter probed");
	cr_assert(!has(features, "event-sw-breakpoint"));
	cr_assert(!has(features, "inject-pf-address"));
	cr_assert(!has(features, "vfio-user-msi") && !has(features, "plugin-hyperv"));
	json_object_put(root);
	c.step_cpl3 = c.sw_breakpoint = c.msr_filter = c.exception_payload = true;
	c.msi = c.hyperv_synic = true;
	c.hw_breakpoint_cpl3 = true;
	write_caps(&c, buf, sizeof(buf));
	features = parse_caps(buf, &root);
	cr_assert(!has(features, "singlestep-cpl0-only"));
	cr_assert(!has(features, "breakpoint-cpl0-only"));
	cr_assert(!has(features, "pf-exec-allow-imprecise-cpl3"));
	cr_assert(has(features, "event-msr") && has(features, "event-sw-breakpoint"));
	cr_assert(has(features, "inject-pf-address"));
	cr_assert(has(features, "vfio-user-msi") == built_with("vfio-user"));
	cr_assert(has(features, "plugin-hyperv") == built_with("crosvm-plugin"));
	json_object_put(root);
}

/* ------------------------------------------------------------ vigild itself */

Test(capabilities, vigild_prints_and_exits_0_whatever_else_is_given)
{
	static char *const cmds[][8] = {
		{ VIGILD_BIN, "--print-capabilities", NULL },
		{ VIGILD_BIN, "--bogus-option", "--print-capabilities", NULL },
		{ VIGILD_BIN, "run", "--guest", "/nonexistent.elf", "--mem", "1T",
		  "--print-capabilities", NULL },
		{ VIGILD_BIN, "--print-capabilities", "--help", "--version", NULL },
	};
	struct json_object *root;
	struct run r;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run_capture(&r, cmds[i], NULL);
		cr_assert_eq(r.status, 0, "command %zu: status %d, stderr %s", i, r.status, r.err);
		parse_caps(r.out, &root);
		json_object_put(root);
	}
}

Test(capabilities, vigild_without_kvm_still_exits_0)
{
	char *const argv[] = {
		"unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount --bind /dev/null /dev/kvm && exec \"$0\" --print-capabilities",
		VIGILD_BIN, NULL,
	};
	struct json_object *root, *features;
	struct run r;

	if (geteuid() != 0)
		cr_skip_test("hiding /dev/kvm in a mount namespace needs root");
	run_capture(&r, argv, NULL);
	if (r.status != 0 && strstr(r.err, "unshare"))
		cr_skip_test("cannot create a mount namespace here: %s", r.err);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	features = parse_caps(r.out, &root);
	cr_assert(!has(features, "kvm"), "%s", r.out);
	json_object_put(root);
}
