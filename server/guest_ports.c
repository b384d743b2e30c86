/* Serial, exit, ucall and no-op ports for standalone guests. */
#include <errno.h>
#include <string.h>

#include "exitcodes.h"
#include "guest_ports.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"

static void serial_flush_locked(struct vm *vm, FILE *console)
{
	vm->serial_line[vm->serial_len] = '\0';
	if (console) {
		fprintf(console, "%s\n", vm->serial_line);
		fflush(console);
	} else {
		log_info("guest: %s", vm->serial_line);
	}
	vm->serial_len = 0;
}

static int serial_io(struct vcpu *vcpu, void *opaque, uint64_t port, bool is_write,
		     void *data, unsigned len)
{
	struct guest_ports *gp = opaque;
	struct vm *vm = vcpu->vm;
	uint8_t c = *(uint8_t *)data;

	(void)len;
	if (!is_write) {
		/* LSR: transmitter empty and idle; everything else reads 0. */
		*(uint8_t *)data = port == VIGIL_PORT_SERIAL + 5 ? 0x60 : 0;
		return 0;
	}
	if (port != VIGIL_PORT_SERIAL)
		return 0;  /* divisor, IER, FCR, LCR, MCR writes: nothing to model */
	pthread_mutex_lock(&vm->serial_lock);
	if (c == '\n' || vm->serial_len == sizeof(vm->serial_line) - 1)
		serial_flush_locked(vm, gp->console);
	if (c != '\n' && c != '\r')
		vm->serial_line[vm->serial_len++] = (char)c;
	pthread_mutex_unlock(&vm->serial_lock);
	return 0;
}

static uint32_t port_value(const void *data, unsigned len)
{
	uint32_t v = 0;

	memcpy(&v, data, len < 4 ? len : 4);
	return v;
}

static int exit_io(struct vcpu *vcpu, void *opaque, uint64_t port, bool is_write,
		   void *data, unsigned len)
{
	uint32_t status = port_value(data, len);

	(void)opaque;
	(void)port;
	if (!is_write)
		return 0;
	if (status > VIGILD_EXIT_GUEST_MAX)
		status = VIGILD_EXIT_GUEST_MAX;
	vm_request_stop(vcpu->vm, (int)status, "guest exited with status %u (vCPU %u)",
			status, vcpu->id);
	return 0;
}

static int nop_io(struct vcpu *vcpu, void *opaque, uint64_t port, bool is_write,
		  void *data, unsigned len)
{
	(void)vcpu; (void)opaque; (void)port;
	if (!is_write)
		memset(data, 0, len);
	return 0;
}

static void bench_cb(struct mbox_msg *msg)
{
	struct vcpu_call *call = (struct vcpu_call *)msg;

	vcpu_call_complete(call, 0);
}

static int ucall_dispatch(struct guest_ports *gp, struct vcpu *vcpu, struct vigil_ucall *uc)
{
	struct vm *vm = vcpu->vm;

	uc->buf[VIGIL_UCALL_BUF - 1] = '\0';
	switch (uc->cmd) {
	case VIGIL_UCALL_SYNC:
		atomic_fetch_add(&gp->nr_sync, 1);
		if (gp->on_sync)
			gp->on_sync(vcpu, uc, gp->on_sync_opaque);
		return 0;
	case VIGIL_UCALL_PRINT:
		if (gp->console) {
			fprintf(gp->console, "%s", uc->buf);
			fflush(gp->console);
		} else {
			log_info("guest: vCPU %u: %s", vcpu->id, uc->buf);
		}
		return 0;
	case VIGIL_UCALL_ASSERT:
		vm_request_stop(vm, 1, "guest assertion failed on vCPU %u: %s", vcpu->id, uc->buf);
		return 0;
	case VIGIL_UCALL_DONE:
		if (atomic_fetch_add(&gp->nr_done, 1) + 1 == vm->nr_vcpus)
			vm_request_stop(vm, 0, "guest done (all %u vCPUs)", vm->nr_vcpus);
		return 0;
	case VIGIL_UCALL_BENCH:
		vcpu->call.msg.opaque = gp;
		return vcpu_call_reactor(vcpu, &vcpu->call, bench_cb, -1);
	default:
		log_warn("vCPU %u: unknown ucall %llu ignored", vcpu->id,
			 (unsigned long long)uc->cmd);
		return 0;
	}
}

static int ucall_io(struct vcpu *vcpu, void *opaque, uint64_t port, bool is_write,
		    void *data, unsigned len)
{
	struct vigil_ucall *uc;
	uint32_t gpa = port_value(data, len);
	int r;

	(void)port;
	if (!is_write)
		return 0;
	uc = vm_gpa_to_hva(vcpu->vm, gpa, sizeof(*uc));
	if (!uc) {
		log_warn("vCPU %u: ucall at 0x%x is outside guest RAM", vcpu->id, gpa);
		return 0;
	}
	r = ucall_dispatch(opaque, vcpu, uc);
	return r == -ECANCELED ? r : 0;
}

int guest_ports_register(struct guest_ports *gp, struct vm *vm, FILE *console)
{
	int err;

	memset(gp, 0, sizeof(*gp));
	gp->vm = vm;
	gp->console = console;
	err = iobus_register(&vm->pio, VIGIL_PORT_SERIAL, 8, serial_io, gp);
	if (!err)
		err = iobus_register(&vm->pio, VIGIL_PORT_EXIT, 4, exit_io, gp);
	if (!err)
		err = iobus_register(&vm->pio, VIGIL_PORT_UCALL, 4, ucall_io, gp);
	if (!err)
		err = iobus_register(&vm->pio, VIGIL_PORT_NOP, 4, nop_io, gp);
	return err;
}
