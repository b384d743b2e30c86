/*
 * vigild --plugin: run a VM driven by a crosvm-style plugin process.
 *
 * plugin_run spawns the plugin with one end of a SOCK_SEQPACKET socketpair
 * (fd number in CROSVM_SOCKET), creates a VM with no RAM, serves the plugin's
 * sockets from the reactor until the plugin exits or the VM stops, then tears
 * everything down. Returns vigild's exit status (exitcodes.h). *@vmp is set
 * as soon as the VM exists; the caller frees it with vm_free().
 */
#ifndef VIGIL_PLUGIN_H
#define VIGIL_PLUGIN_H

struct vigild_opts;
struct kvm_host;
struct reactor;
struct vm;

int plugin_run(const struct vigild_opts *opts, struct kvm_host *kvm,
	       struct reactor *reactor, struct vm **vmp);

/*
 * The same server without a spawned process, for the fuzzers and the fault
 * tests: serve the plugin protocol on @sock (our end of a SOCK_SEQPACKET
 * socketpair; owned from now on) for @vm, whose vCPUs must not be started
 * yet (the plugin's Start request starts them). The caller runs @base,
 * drains the VM's mailbox from it and calls plugin_vm_stopping from its VM
 * stop listener. plugin_detach closes every socket and frees the server; call
 * it after vm_shutdown (vCPU threads may point into it). -errno on failure.
 */
struct plugin;
struct event_base;
int plugin_attach(struct vm *vm, struct event_base *base, int sock, struct plugin **out);
void plugin_vm_stopping(struct plugin *pl);
void plugin_detach(struct plugin **pl);

#endif
