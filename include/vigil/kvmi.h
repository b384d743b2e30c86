/*
 * vigil introspection protocol (KVMI-style), wire ABI.
 *
 * One message per SOCK_SEQPACKET datagram on the UNIX socket given to
 * `vigild --introspect PATH`. Every message starts with struct vigil_kvmi_hdr
 * in host byte order; hdr.size is the number of bytes after the header and
 * must equal the datagram length minus 8. A reply echoes the request's msg_id
 * and seq and starts with struct vigil_kvmi_error (err is a VIGIL_KVMI_E*
 * value, not an errno: errnos are not portable). Every padding and reserved
 * field must be zero; a non-zero one fails with VIGIL_KVMI_EINVAL.
 *
 * Server-originated messages (ATTACH, EVENT, UNHOOK) carry their own seq
 * counter. The tool answers an EVENT with EVENT_REPLY carrying the event's seq;
 * a valid EVENT_REPLY gets no answer, an invalid one gets an EVENT_REPLY
 * message with an error and the vCPU keeps waiting.
 *
 * The full description of every message is docs/introspection-protocol.md.
 * Layouts are fixed (natural alignment, explicit padding, no packing); the
 * sizes are checked by _Static_assert below.
 */
#ifndef VIGIL_KVMI_ABI_H
#define VIGIL_KVMI_ABI_H

#include <linux/kvm.h>
#include <stdint.h>

#define VIGIL_KVMI_VERSION       1
#define VIGIL_KVMI_MAX_MSG       65535u   /* bytes after the header */
#define VIGIL_KVMI_MAX_IO        32768u   /* bytes per READ/WRITE_PHYSICAL */
#define VIGIL_KVMI_MAX_MSRS      64u      /* MSRs per GET_REGISTERS */
#define VIGIL_KVMI_MAX_PAGES     4000u    /* entries per SET/GET_PAGE_ACCESS */
#define VIGIL_KVMI_ALL_VCPUS     0xffffu  /* vcpu field: every vCPU */
#define VIGIL_KVMI_PAGE_SIZE     4096u
#define VIGIL_KVMI_NR_HW_BPS     4u

/* Guest-to-tool doorbell: a 32-bit OUT to this port raises a HYPERCALL event
 * (the port value and the guest's registers are the arguments). */
#define VIGIL_KVMI_HYPERCALL_PORT 0x0e0

/* ---- error values (struct vigil_kvmi_error.err) ---- */
enum vigil_kvmi_err {
	VIGIL_KVMI_OK = 0,
	VIGIL_KVMI_EINVAL = 1,      /* bad field, non-zero padding, bad size */
	VIGIL_KVMI_ENOSYS = 2,      /* unknown command or not supported by this host */
	VIGIL_KVMI_EBUSY = 3,       /* another tool is attached */
	VIGIL_KVMI_EFAULT = 4,      /* address not guest RAM / gva not mapped */
	VIGIL_KVMI_ENOMEM = 5,      /* server out of memory */
	VIGIL_KVMI_E2BIG = 6,       /* length over the documented maximum */
	VIGIL_KVMI_ESTALE = 7,      /* generation cookie is stale */
	VIGIL_KVMI_EAGAIN = 8,      /* vCPU is running: pause it (needs an event) */
	VIGIL_KVMI_ENOENT = 9,      /* no such vCPU */
	VIGIL_KVMI_ENOSPC = 10,     /* out of memslots / breakpoint slots */
	VIGIL_KVMI_EPERM = 11,      /* not allowed (MSR cannot be filtered, ...) */
	VIGIL_KVMI_EIO = 12,        /* a KVM ioctl failed */
	VIGIL_KVMI_EMSGSIZE = 13,   /* header size and datagram length disagree */
	VIGIL_KVMI_ESHUTDOWN = 14,  /* the VM is stopping */
};

/* ---- message ids ---- */
enum vigil_kvmi_msg {
	VIGIL_KVMI_ATTACH = 1,           /* server -> tool, first message */
	VIGIL_KVMI_GET_VERSION = 2,
	VIGIL_KVMI_GET_GUEST_INFO = 3,
	VIGIL_KVMI_PAUSE_VCPU = 4,
	VIGIL_KVMI_GET_REGISTERS = 5,
	VIGIL_KVMI_SET_REGISTERS = 6,
	VIGIL_KVMI_GET_CPUID = 7,
	VIGIL_KVMI_GET_XCR = 8,
	VIGIL_KVMI_GET_XSAVE = 9,
	VIGIL_KVMI_READ_PHYSICAL = 10,
	VIGIL_KVMI_WRITE_PHYSICAL = 11,
	VIGIL_KVMI_TRANSLATE_GVA = 12,
	VIGIL_KVMI_SET_PAGE_ACCESS = 13,
	VIGIL_KVMI_GET_PAGE_ACCESS = 14,
	VIGIL_KVMI_CONTROL_EVENTS = 15,
	VIGIL_KVMI_CONTROL_CR = 16,
	VIGIL_KVMI_CONTROL_MSR = 17,
	VIGIL_KVMI_CONTROL_SINGLESTEP = 18,
	VIGIL_KVMI_INJECT_EXCEPTION = 19,
	VIGIL_KVMI_GET_MEMFD = 20,       /* reply carries the RAM memfd (SCM_RIGHTS) */
	VIGIL_KVMI_SET_BREAKPOINT = 21,
	VIGIL_KVMI_UNHOOK = 22,          /* tool: remove everything, then detach */
	VIGIL_KVMI_EVENT = 23,           /* server -> tool */
	VIGIL_KVMI_EVENT_REPLY = 24,     /* tool -> server */
	VIGIL_KVMI_NOTIFY_UNHOOK = 25,   /* server -> tool: server unhooks and closes */
	VIGIL_KVMI_SET_XFER = 26,        /* request carries a memfd (SCM_RIGHTS) */
	VIGIL_KVMI_READ_PHYSICAL_XFER = 27,
	VIGIL_KVMI_MSG_MAX = 28,
};

/* ---- event kinds (bit numbers in event masks; event.event holds one) ---- */
enum vigil_kvmi_event_id {
	VIGIL_KVMI_EVENT_PAUSE = 0,      /* always enabled: answers a PAUSE_VCPU */
	VIGIL_KVMI_EVENT_CR = 1,
	VIGIL_KVMI_EVENT_MSR = 2,
	VIGIL_KVMI_EVENT_XSETBV = 3,
	VIGIL_KVMI_EVENT_DESCRIPTOR = 4, /* LGDT/LIDT/LLDT/LTR */
	VIGIL_KVMI_EVENT_BREAKPOINT = 5, /* hardware debug registers */
	VIGIL_KVMI_EVENT_SW_BREAKPOINT = 6, /* int3 (needs KVM_GUESTDBG_USE_SW_BP) */
	VIGIL_KVMI_EVENT_SINGLESTEP = 7,
	VIGIL_KVMI_EVENT_HYPERCALL = 8,
	VIGIL_KVMI_EVENT_PF = 9,         /* page access (r/w/x) */
	VIGIL_KVMI_EVENT_TRAP = 10,      /* result of an INJECT_EXCEPTION */
	VIGIL_KVMI_EVENT_DMA = 11,       /* device access to guest memory (VM scope) */
	VIGIL_KVMI_EVENT_MAX = 12,
};
#define VIGIL_KVMI_EVBIT(e) (1ull << (e))
/* Events no vCPU raises: enabled for the VM (CONTROL_EVENTS vcpu = ALL). */
#define VIGIL_KVMI_VM_EVENTS VIGIL_KVMI_EVBIT(VIGIL_KVMI_EVENT_DMA)
/* event.vcpu of an event that no vCPU raised (DMA). */
#define VIGIL_KVMI_NO_VCPU 0xffffu

/* ---- actions (event reply) ---- */
enum vigil_kvmi_action {
	VIGIL_KVMI_ACTION_ALLOW = 0,  /* let it happen (optionally a new value) */
	VIGIL_KVMI_ACTION_SKIP = 1,   /* it does not take effect, continue after it */
	VIGIL_KVMI_ACTION_RETRY = 2,  /* re-evaluate / re-execute it */
	VIGIL_KVMI_ACTION_CRASH = 3,  /* stop the VM (vigild exits 82) */
	VIGIL_KVMI_ACTION_MAX = 4,
};
#define VIGIL_KVMI_REPLY_VALUE  (1u << 0)  /* ALLOW: use reply.value */
#define VIGIL_KVMI_REPLY_CTX    (1u << 1)  /* SKIP of a read: return reply.ctx */

/* Page access bits. */
#define VIGIL_KVMI_PAGE_R 0x1u
#define VIGIL_KVMI_PAGE_W 0x2u
#define VIGIL_KVMI_PAGE_X 0x4u
#define VIGIL_KVMI_PAGE_RWX 0x7u

/* ---- common ---- */
struct vigil_kvmi_hdr {
	uint16_t msg_id;
	uint16_t size;      /* bytes following this header */
	uint32_t seq;
};

struct vigil_kvmi_error {
	int32_t err;        /* enum vigil_kvmi_err */
	uint32_t padding;
};

/* Requests that address one vCPU (PAUSE_VCPU, GET_XCR, GET_XSAVE, UNHOOK: 0). */
struct vigil_kvmi_vcpu_req {
	uint16_t vcpu;
	uint16_t padding[3];
};

/* ATTACH: err OK (then the session starts) or EBUSY (then the server closes). */
struct vigil_kvmi_attach {
	struct vigil_kvmi_error e;
	uint32_t version;
	uint32_t nr_vcpus;
};

/* GET_VERSION reply. Bit n of commands is message id n; events bit n is event
 * id n. events_caveat marks kinds that work with a documented limitation. */
struct vigil_kvmi_version_reply {
	struct vigil_kvmi_error e;
	uint32_t version;
	uint32_t max_msg;
	uint64_t commands;
	uint64_t events;
	uint64_t events_caveat;
	uint32_t nr_hw_breakpoints;
	uint32_t features;
};
#define VIGIL_KVMI_FEAT_EXCEPTION_PAYLOAD (1u << 0)  /* INJECT_EXCEPTION sets CR2 */
#define VIGIL_KVMI_FEAT_MEMFD             (1u << 1)
#define VIGIL_KVMI_FEAT_STEP_BLOCKIRQ     (1u << 2)

struct vigil_kvmi_guest_info_reply {
	struct vigil_kvmi_error e;
	uint16_t vcpu_count;
	uint16_t arch;       /* 0 = x86 */
	uint32_t padding;
	uint64_t tsc_khz;    /* guest TSC frequency, 0 if unknown */
	uint64_t mem_size;   /* bytes of guest RAM */
};

struct vigil_kvmi_msr_entry {
	uint32_t index;
	uint32_t padding;
	uint64_t data;
};

/* GET_REGISTERS: request is this struct followed by nmsrs u32 MSR indices. */
struct vigil_kvmi_get_regs {
	uint16_t vcpu;
	uint16_t nmsrs;
	uint32_t padding;
};
/* Reply: this struct followed by nmsrs struct vigil_kvmi_msr_entry. */
struct vigil_kvmi_get_regs_reply {
	struct vigil_kvmi_error e;
	uint32_t mode;       /* 2, 4 or 8 (bytes) */
	uint32_t nmsrs;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

struct vigil_kvmi_set_regs {
	uint16_t vcpu;
	uint16_t padding[3];
	struct kvm_regs regs;
};

struct vigil_kvmi_get_cpuid {
	uint16_t vcpu;
	uint16_t padding;
	uint32_t function;
	uint32_t index;
	uint32_t padding2;
};
struct vigil_kvmi_cpuid_reply {
	struct vigil_kvmi_error e;
	uint32_t eax, ebx, ecx, edx;
};

struct vigil_kvmi_xcr_reply {
	struct vigil_kvmi_error e;
	uint64_t xcr0;
};

struct vigil_kvmi_xsave_reply {
	struct vigil_kvmi_error e;
	struct kvm_xsave xsave;
};

struct vigil_kvmi_read_phys {
	uint64_t gpa;
	uint32_t size;       /* 1 .. VIGIL_KVMI_MAX_IO */
	uint32_t padding;
};
/* Reply: this struct followed by size bytes. */
struct vigil_kvmi_read_phys_reply {
	struct vigil_kvmi_error e;
	uint64_t generation;
};

/* Request: this struct followed by size bytes. generation 0 writes
 * unconditionally; otherwise it must equal the current generation. */
struct vigil_kvmi_write_phys {
	uint64_t gpa;
	uint64_t generation;
	uint32_t size;
	uint32_t padding;
};
struct vigil_kvmi_write_phys_reply {
	struct vigil_kvmi_error e;
	uint64_t generation;  /* after the write */
};

struct vigil_kvmi_translate {
	uint16_t vcpu;
	uint16_t padding[3];
	uint64_t gva;
};
struct vigil_kvmi_translate_reply {
	struct vigil_kvmi_error e;
	uint64_t gpa;
	uint32_t levels;     /* paging levels walked: 2, 3, 4, 5; 0 = paging off */
	uint32_t padding;
};

struct vigil_kvmi_page_entry {
	uint64_t gpa;        /* page aligned */
	uint8_t access;      /* VIGIL_KVMI_PAGE_* allowed; 7 lifts the restriction */
	uint8_t padding[7];
};
/* SET_PAGE_ACCESS / GET_PAGE_ACCESS request: this struct followed by count
 * entries (GET: access must be 0). GET's reply: the error, the same struct and
 * the entries with access filled. All or nothing. */
struct vigil_kvmi_page_access {
	uint32_t count;
	uint32_t padding;
};
struct vigil_kvmi_page_access_reply {
	struct vigil_kvmi_error e;
	uint32_t count;
	uint32_t slots_used;  /* KVM memslots in use afterwards */
};

#define VIGIL_KVMI_EVENTS_SET     0
#define VIGIL_KVMI_EVENTS_ENABLE  1
#define VIGIL_KVMI_EVENTS_DISABLE 2
struct vigil_kvmi_control_events {
	uint16_t vcpu;       /* or VIGIL_KVMI_ALL_VCPUS */
	uint8_t op;
	uint8_t padding[5];
	uint64_t events;     /* VIGIL_KVMI_EVBIT() mask */
};
/* Reply: the resulting mask (of vCPU 0 when vcpu is ALL). */
struct vigil_kvmi_control_events_reply {
	struct vigil_kvmi_error e;
	uint64_t events;
};

struct vigil_kvmi_control_cr {
	uint16_t vcpu;
	uint8_t cr;          /* 0, 3 or 4 */
	uint8_t enable;
	uint32_t padding;
};

struct vigil_kvmi_control_msr {
	uint16_t vcpu;
	uint8_t enable;
	uint8_t padding;
	uint32_t msr;
};

struct vigil_kvmi_control_singlestep {
	uint16_t vcpu;
	uint8_t enable;
	uint8_t padding[5];
};

struct vigil_kvmi_inject_exception {
	uint16_t vcpu;
	uint8_t vector;
	uint8_t has_error;
	uint32_t error_code;
	uint64_t cr2;        /* #PF only */
};

/* GET_MEMFD reply: this struct then nr_regions regions; the datagram carries
 * the memfd as SCM_RIGHTS. Map it MAP_SHARED; offsets are into the memfd. */
struct vigil_kvmi_memfd_reply {
	struct vigil_kvmi_error e;
	uint32_t nr_regions;
	uint32_t padding;
	uint64_t size;       /* memfd size */
};
struct vigil_kvmi_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;
};

/* SET_XFER: the tool shares a buffer (memfd, MAP_SHARED) that
 * READ_PHYSICAL_XFER fills directly: one copy, any length up to the buffer. */
#define VIGIL_KVMI_MAX_XFER (1ull << 30)
struct vigil_kvmi_set_xfer {
	uint64_t size;       /* bytes of the memfd to use; 0 drops the buffer */
};
struct vigil_kvmi_read_phys_xfer {
	uint64_t gpa;
	uint64_t offset;     /* into the transfer buffer */
	uint64_t size;       /* offset + size <= the buffer's size */
};
/* READ_PHYSICAL_XFER reply: struct vigil_kvmi_read_phys_reply (no data). */

#define VIGIL_KVMI_BP_EXEC  0
#define VIGIL_KVMI_BP_WRITE 1
#define VIGIL_KVMI_BP_RW    3
struct vigil_kvmi_set_breakpoint {
	uint16_t vcpu;
	uint8_t index;       /* 0..3 */
	uint8_t enable;
	uint8_t type;        /* VIGIL_KVMI_BP_* */
	uint8_t len;         /* 1, 2, 4, 8 (EXEC: 1) */
	uint16_t padding;
	uint64_t gva;
};

/* ---- events ---- */
struct vigil_kvmi_event_msrs {
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t efer, star, lstar, cstar;
};

/* EVENT: this common part, then the kind's struct (may be empty). */
struct vigil_kvmi_event {
	uint16_t vcpu;
	uint8_t mode;        /* 2, 4, 8 */
	uint8_t padding;
	uint32_t event;      /* enum vigil_kvmi_event_id */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct vigil_kvmi_event_msrs msrs;
};

struct vigil_kvmi_event_cr {
	uint16_t cr;
	uint16_t padding;
	uint32_t insn_len;
	uint64_t old_value;
	uint64_t new_value;
};

struct vigil_kvmi_event_msr {
	uint32_t msr;
	uint32_t padding;
	uint64_t old_value;
	uint64_t new_value;
};

struct vigil_kvmi_event_xsetbv {
	uint32_t xcr;
	uint32_t insn_len;
	uint64_t old_value;
	uint64_t new_value;
};

#define VIGIL_KVMI_DESC_GDTR 0
#define VIGIL_KVMI_DESC_IDTR 1
#define VIGIL_KVMI_DESC_LDTR 2
#define VIGIL_KVMI_DESC_TR   3
struct vigil_kvmi_event_descriptor {
	uint8_t descriptor;  /* VIGIL_KVMI_DESC_* */
	uint8_t padding[3];
	uint32_t insn_len;
	uint64_t new_base;   /* GDTR/IDTR: base being loaded */
	uint32_t new_limit;
	uint16_t new_selector; /* LDTR/TR */
	uint16_t padding2;
};

struct vigil_kvmi_event_breakpoint {
	uint64_t gva;
	uint64_t dr6;
	uint32_t index;      /* DR number that hit; ~0 for a software breakpoint */
	uint32_t padding;
};

struct vigil_kvmi_event_hypercall {
	uint32_t value;      /* value the guest wrote to the doorbell port */
	uint32_t padding;
};

struct vigil_kvmi_event_pf {
	uint64_t gva;        /* ~0 when unknown */
	uint64_t gpa;
	uint8_t access;      /* the access attempted: one VIGIL_KVMI_PAGE_* bit */
	uint8_t len;         /* bytes of data (reads, writes) */
	uint16_t padding;
	uint32_t padding2;
	uint8_t data[8];     /* writes: the bytes being written */
};

struct vigil_kvmi_event_trap {
	uint32_t vector;
	uint32_t error_code;
	uint64_t cr2;
	uint8_t delivered;   /* 1: the guest took it; 0: lost or still pending */
	uint8_t padding[7];
};

/* DMA: a vfio-user device (--device ...,trace-dma=on) accesses guest memory.
 * The common part has vcpu = VIGIL_KVMI_NO_VCPU and zero registers. Without
 * DENIED the page policy allows the access and it has already gone ahead:
 * a notification, no reply expected. With DENIED the device waits for the
 * reply: ALLOW performs it, SKIP fails it (the device gets EACCES), RETRY
 * re-checks the page policy now, CRASH stops the VM. */
#define VIGIL_KVMI_DMA_READ    0       /* the device reads guest memory */
#define VIGIL_KVMI_DMA_WRITE   1       /* the device writes guest memory */
#define VIGIL_KVMI_DMA_DENIED  (1u << 0)
#define VIGIL_KVMI_DMA_NO_SLOT 0xffffu
struct vigil_kvmi_event_dma {
	uint32_t device;     /* index of the --device option (0, 1, ...) */
	uint16_t pci_slot;   /* device number on PCI bus 0, or VIGIL_KVMI_DMA_NO_SLOT */
	uint8_t direction;   /* VIGIL_KVMI_DMA_READ / VIGIL_KVMI_DMA_WRITE */
	uint8_t flags;       /* VIGIL_KVMI_DMA_DENIED */
	uint64_t gpa;
	uint64_t len;
	uint64_t denied_gpa; /* DENIED: first page lacking the right; else 0 */
};

/* EVENT_REPLY (tool -> server), seq = the event's seq. */
struct vigil_kvmi_event_reply {
	uint8_t action;      /* enum vigil_kvmi_action */
	uint8_t flags;       /* VIGIL_KVMI_REPLY_* */
	uint16_t padding;
	uint32_t event;      /* must echo the event kind */
	uint64_t value;      /* with REPLY_VALUE */
	uint32_t ctx_size;   /* with REPLY_CTX: bytes in ctx (<= 8) */
	uint32_t padding2;
	uint8_t ctx[8];
};

/* NOTIFY_UNHOOK (server -> tool): the server removed every intercept and
 * closes the connection after this message. */
#define VIGIL_KVMI_UNHOOK_SHUTDOWN 1  /* the VM is stopping */
#define VIGIL_KVMI_UNHOOK_REQUEST  2  /* answer to the tool's UNHOOK */
struct vigil_kvmi_notify_unhook {
	uint32_t reason;
	uint32_t padding;
};

_Static_assert(sizeof(struct vigil_kvmi_hdr) == 8, "hdr");
_Static_assert(sizeof(struct vigil_kvmi_error) == 8, "error");
_Static_assert(sizeof(struct vigil_kvmi_vcpu_req) == 8, "vcpu_req");
_Static_assert(sizeof(struct vigil_kvmi_attach) == 16, "attach");
_Static_assert(sizeof(struct vigil_kvmi_version_reply) == 48, "version");
_Static_assert(sizeof(struct vigil_kvmi_guest_info_reply) == 32, "guest_info");
_Static_assert(sizeof(struct vigil_kvmi_msr_entry) == 16, "msr_entry");
_Static_assert(sizeof(struct vigil_kvmi_get_regs) == 8, "get_regs");
_Static_assert(sizeof(struct kvm_regs) == 144, "kvm_regs");
_Static_assert(sizeof(struct kvm_sregs) == 312, "kvm_sregs");
_Static_assert(sizeof(struct vigil_kvmi_get_regs_reply) == 16 + 144 + 312, "get_regs_reply");
_Static_assert(sizeof(struct vigil_kvmi_set_regs) == 8 + 144, "set_regs");
_Static_assert(sizeof(struct vigil_kvmi_get_cpuid) == 16, "get_cpuid");
_Static_assert(sizeof(struct vigil_kvmi_cpuid_reply) == 24, "cpuid_reply");
_Static_assert(sizeof(struct vigil_kvmi_xcr_reply) == 16, "xcr_reply");
_Static_assert(sizeof(struct vigil_kvmi_xsave_reply) == 8 + 4096, "xsave_reply");
_Static_assert(sizeof(struct vigil_kvmi_read_phys) == 16, "read_phys");
_Static_assert(sizeof(struct vigil_kvmi_read_phys_reply) == 16, "read_phys_reply");
_Static_assert(sizeof(struct vigil_kvmi_write_phys) == 24, "write_phys");
_Static_assert(sizeof(struct vigil_kvmi_write_phys_reply) == 16, "write_phys_reply");
_Static_assert(sizeof(struct vigil_kvmi_translate) == 16, "translate");
_Static_assert(sizeof(struct vigil_kvmi_translate_reply) == 24, "translate_reply");
_Static_assert(sizeof(struct vigil_kvmi_page_entry) == 16, "page_entry");
_Static_assert(sizeof(struct vigil_kvmi_page_access) == 8, "page_access");
_Static_assert(sizeof(struct vigil_kvmi_page_access_reply) == 16, "page_access_reply");
_Static_assert(sizeof(struct vigil_kvmi_control_events) == 16, "control_events");
_Static_assert(sizeof(struct vigil_kvmi_control_events_reply) == 16, "control_events_reply");
_Static_assert(sizeof(struct vigil_kvmi_control_cr) == 8, "control_cr");
_Static_assert(sizeof(struct vigil_kvmi_control_msr) == 8, "control_msr");
_Static_assert(sizeof(struct vigil_kvmi_control_singlestep) == 8, "control_singlestep");
_Static_assert(sizeof(struct vigil_kvmi_inject_exception) == 16, "inject_exception");
_Static_assert(sizeof(struct vigil_kvmi_memfd_reply) == 24, "memfd_reply");
_Static_assert(sizeof(struct vigil_kvmi_mem_region) == 24, "mem_region");
_Static_assert(sizeof(struct vigil_kvmi_set_breakpoint) == 16, "set_breakpoint");
_Static_assert(sizeof(struct vigil_kvmi_set_xfer) == 8, "set_xfer");
_Static_assert(sizeof(struct vigil_kvmi_read_phys_xfer) == 24, "read_phys_xfer");
_Static_assert(sizeof(struct vigil_kvmi_event_msrs) == 56, "event_msrs");
_Static_assert(sizeof(struct vigil_kvmi_event) == 8 + 144 + 312 + 56, "event");
_Static_assert(sizeof(struct vigil_kvmi_event_cr) == 24, "event_cr");
_Static_assert(sizeof(struct vigil_kvmi_event_msr) == 24, "event_msr");
_Static_assert(sizeof(struct vigil_kvmi_event_xsetbv) == 24, "event_xsetbv");
_Static_assert(sizeof(struct vigil_kvmi_event_descriptor) == 24, "event_descriptor");
_Static_assert(sizeof(struct vigil_kvmi_event_breakpoint) == 24, "event_breakpoint");
_Static_assert(sizeof(struct vigil_kvmi_event_hypercall) == 8, "event_hypercall");
_Static_assert(sizeof(struct vigil_kvmi_event_pf) == 32, "event_pf");
_Static_assert(sizeof(struct vigil_kvmi_event_trap) == 24, "event_trap");
_Static_assert(sizeof(struct vigil_kvmi_event_dma) == 32, "event_dma");
_Static_assert(sizeof(struct vigil_kvmi_event_reply) == 32, "event_reply");
_Static_assert(sizeof(struct vigil_kvmi_notify_unhook) == 8, "notify_unhook");

#endif
