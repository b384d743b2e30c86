/* What the fault-injection guest and plugin agree on. */
#ifndef VIGIL_FAULT_ABI_H
#define VIGIL_FAULT_ABI_H

#define FAULT_PORT_OUT    0x510      /* vCPU 0: reserved by the plugin (4 bytes) */
#define FAULT_PORT_IN     0x511
#define FAULT_PORT_FREE   0x520      /* other vCPUs: nobody's port */
#define FAULT_ROUNDS_GPA  0x7f0000   /* u64 per vCPU: rounds of the free loop */

/* Storm guest (introspection): every round writes an MSR and a page the tool
 * may intercept, then counts at FAULT_ROUNDS_GPA. */
#define FAULT_STORM_MSR   0xc0000082u  /* LSTAR: any value is accepted */
#define FAULT_STORM_PAGE  0x600000

#endif
