/* A small vsnprintf for guests: %d %i %u %x %X %p %s %c %%, with l/ll/z,
 * zero padding and field width. */
#include "guest.h"

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, unsigned long long v, unsigned base, bool upper,
		    bool neg, int width, char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width-- > n)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

static unsigned long long get_arg(va_list *ap, int lng, bool is_signed, bool *neg)
{
	long long s;

	*neg = false;
	if (!is_signed)
		return lng >= 1 ? va_arg(*ap, unsigned long long) : va_arg(*ap, unsigned int);
	s = lng >= 1 ? va_arg(*ap, long long) : va_arg(*ap, int);
	if (s < 0) {
		*neg = true;
		return (unsigned long long)(-(s + 1)) + 1;
	}
	return (unsigned long long)s;
}

int guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	va_list aq;

	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';
		bool neg;
		unsigned long long v;
		const char *s;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z')
			lng++, fmt++;
		switch (*fmt) {
		case 'd': case 'i':
			v = get_arg(&aq, lng, true, &neg);
			put_num(&o, v, 10, false, neg, width, pad);
			break;
		case 'u': case 'x': case 'X':
			v = get_arg(&aq, lng, false, &neg);
			put_num(&o, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, pad);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (unsigned long long)va_arg(aq, void *), 16, false, false, 0, ' ');
			break;
		case 's':
			s = va_arg(aq, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		case 'c':
			put(&o, (char)va_arg(aq, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '%');
			if (!*fmt)
				goto done;
			put(&o, *fmt);
		}
	}
done:
	va_end(aq);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = guest_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
