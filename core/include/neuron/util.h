/* Small public helpers: a growable string and text sanitising. */
#ifndef NEURON_UTIL_H
#define NEURON_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct nr_error;

/* A growable NUL-terminated string. A failed allocation sets .oom and turns
 * later appends into no-ops, so callers check once at the end. */
struct nr_buf {
	char *data;
	size_t len, cap;
	bool oom;
};

/* The value of a hexadecimal digit, or -1 when c is none. */
int nr_hex_digit(char c);
void nr_buf_init(struct nr_buf *b);
void nr_buf_done(struct nr_buf *b);
void nr_buf_append(struct nr_buf *b, const char *s, size_t n);
/* Room for extra more bytes (and the NUL) after len; false (and .oom) when out of memory. */
bool nr_buf_reserve(struct nr_buf *b, size_t extra);
void nr_buf_puts(struct nr_buf *b, const char *s);
void nr_buf_printf(struct nr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nr_buf_vprintf(struct nr_buf *b, const char *fmt, va_list ap);
/* Hand over the string (never NULL unless .oom); the buffer is empty after. */
char *nr_buf_steal(struct nr_buf *b);

/* Copy text that came from outside (a device name, a guest string) for display:
 * control characters and invalid UTF-8 become '?', at most size-1 bytes, never
 * cutting a UTF-8 sequence. With ascii_only, every non-ASCII byte becomes '?'. */
void nr_text_sanitize(char *out, size_t size, const char *in, bool ascii_only);

/* mkdir -p: make every missing directory of path with mode; those that exist stay as they
 * are. 0, or -NR_E_PERM / -NR_E_IO / -NR_E_NOMEM naming the directory that could not be made. */
int nr_mkdir_p(const char *path, unsigned mode, struct nr_error *err);

#endif
