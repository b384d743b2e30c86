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

#endif
