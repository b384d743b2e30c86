/* Request/response transactions on main and vCPU sockets. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static unsigned main_resp_case(unsigned req_case)
{
	/* Response oneof numbers are the request's + 1, except the dirty log. */
	return req_case == MAIN_REQUEST__MESSAGE_DIRTY_LOG ? MAIN_RESPONSE__MESSAGE_DIRTY_LOG
							   : req_case + 1;
}

int cv_main_xfer(struct crosvm *c, MainRequest *req, const int *out_fds, unsigned nout,
		 MainResponse **resp, int *in_fds, unsigned max_in, unsigned *nin,
		 size_t resp_cap)
{
	unsigned got = 0;
	MainResponse *r;
	int fds[CROSVM_MAX_FDS];
	int len, ret;

	*resp = NULL;
	if (nin)
		*nin = 0;
	ret = cv_grow(&c->buf, &c->buf_size, resp_cap ? resp_cap : CROSVM_RESP_BUF);
	if (ret)
		return ret;
	ret = cv_send(c->fd, &req->base, out_fds, nout);
	if (ret)
		return ret;
	len = cv_recv(c->fd, c->buf, c->buf_size, fds, CROSVM_MAX_FDS, &got);
	if (len < 0)
		return len;
	r = main_response__unpack(NULL, (size_t)len, c->buf);
	if (!r) {
		ret = -EPROTO;
	} else if ((unsigned)r->message_case != main_resp_case(req->message_case)) {
		ret = r->error < 0 ? r->error : -EPROTO;
	} else if (r->error) {
		ret = r->error < 0 ? r->error : -EPROTO;
	} else if (got > max_in) {
		ret = -EPROTO;
	}
	if (ret) {
		cv_close_fds(fds, got);
		if (r)
			main_response__free_unpacked(r, NULL);
		return ret;
	}
	for (unsigned i = 0; i < got; i++)
		in_fds[i] = fds[i];
	if (nin)
		*nin = got;
	else
		cv_close_fds(fds, got);
	*resp = r;
	return 0;
}

static int vcpu_recv(struct crosvm_vcpu *v, VcpuResponse **resp)
{
	int len;

	len = cv_recv(v->fd, v->buf, v->buf_size, NULL, 0, NULL);
	if (len < 0)
		return len;
	*resp = vcpu_response__unpack(NULL, (size_t)len, v->buf);
	return *resp ? 0 : -EPROTO;
}

void cv_vcpu_collect_resume(struct crosvm_vcpu *v)
{
	VcpuResponse *r = NULL;
	int ret;

	if (!v->resume_reply_pending)
		return;
	v->resume_reply_pending = 0;
	ret = vcpu_recv(v, &r);
	if (!ret && r->message_case != VCPU_RESPONSE__MESSAGE_RESUME)
		ret = -EPROTO;
	if (!ret && r->error)
		ret = r->error < 0 ? r->error : -EPROTO;
	if (r)
		vcpu_response__free_unpacked(r, NULL);
	if (ret && !v->resume_error)
		v->resume_error = ret;
}

int cv_vcpu_xfer(struct crosvm_vcpu *v, VcpuRequest *req, VcpuResponse **resp)
{
	VcpuResponse *r = NULL;
	int ret;

	*resp = NULL;
	ret = cv_send(v->fd, &req->base, NULL, 0);
	if (ret)
		return ret;
	/* The reply to a pipelined Resume comes first (same socket, in order). */
	cv_vcpu_collect_resume(v);
	ret = vcpu_recv(v, &r);
	if (ret)
		return ret;
	if ((unsigned)r->message_case != (unsigned)req->message_case + 1)
		ret = r->error < 0 ? r->error : -EPROTO;
	else if (r->error)
		ret = r->error < 0 ? r->error : -EPROTO;
	if (ret) {
		vcpu_response__free_unpacked(r, NULL);
		return ret;
	}
	*resp = r;
	return 0;
}
