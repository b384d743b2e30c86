/*
 * Test-plugin harness: loads a vigil test guest (vigil_add_guest ELF, long
 * mode built by x86_setup_memory) into plugin-created memory, sets each vCPU
 * up on its INIT event through crosvm.h, and decodes the guest's ucalls and
 * exit-port writes. Test plugins report failures on stderr and exit non-zero.
 */
#ifndef VIGIL_TEST_PHARNESS_H
#define VIGIL_TEST_PHARNESS_H

#include <stdio.h>
#include <stdlib.h>

#include <crosvm.h>
#include <vigil/guest_abi.h>

#define PH_RAM_SIZE    (8u << 20)
#define PH_PORT_SCENARIO 0x500      /* guest inl: the scenario number */

struct ph {
	struct crosvm *cv;
	struct crosvm_memory *mem;
	uint8_t *ram;
	int memfd;
	unsigned nr_vcpus;
	uint64_t entry;
	uint32_t scenario;
};

#define PH_CHECK(cond, ...)                                                         \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
				#cond);                                              \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
			exit(1);                                                     \
		}                                                                    \
	} while (0)
#define PH_OK(expr) PH_CHECK((expr) == 0, "%s returned %d", #expr, (expr))

/* Connect, create RAM holding @elf, reserve the ucall/exit/scenario ports. */
void ph_setup(struct ph *h, const char *elf, uint32_t scenario);
/* Put @v into long mode at the guest entry (on its INIT event). */
void ph_init_vcpu(struct ph *h, struct crosvm_vcpu *v, unsigned id, unsigned nr);

enum ph_kind { PH_OTHER, PH_UCALL, PH_EXIT, PH_SCENARIO };
/* Classify an IO event; for PH_UCALL *uc points into guest RAM. Answers the
 * scenario read itself (then resume as usual). */
enum ph_kind ph_classify(struct ph *h, const struct crosvm_vcpu_event *ev,
			 struct vigil_ucall **uc);
/* Wait/resume @v until a ucall of @cmd (SYNC: stage @arg) arrives; the vCPU
 * stays stopped on it. Other ucalls: PRINT is echoed, ASSERT fails. */
void ph_expect_ucall(struct ph *h, struct crosvm_vcpu *v, unsigned cmd, uint64_t arg);
/* Run @v to completion (GUEST_DONE or exit port): resume everything. */
void ph_run_to_done(struct ph *h, struct crosvm_vcpu *v);

#endif
