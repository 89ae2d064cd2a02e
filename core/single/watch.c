/* The watchdog that gives the screen back: the VM must come up after the hand-off, and
 * once it goes away (or the escape chord is typed on a host keyboard) the release runs.
 * See neuron/single.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/internal.h"
#include "neuron/single.h"

/* ------------------------------------------------------------------ the chord -- */

#define K(name) { #name, KEY_##name }
static const struct { const char *name; unsigned short code; } key_names[] = {
	K(LEFTCTRL), K(RIGHTCTRL), K(LEFTALT), K(RIGHTALT), K(LEFTSHIFT), K(RIGHTSHIFT), K(LEFTMETA), K(RIGHTMETA),
	K(F1), K(F2), K(F3), K(F4), K(F5), K(F6), K(F7), K(F8), K(F9), K(F10), K(F11), K(F12),
	K(ESC), K(BACKSPACE), K(TAB), K(ENTER), K(SPACE), K(INSERT), K(DELETE), K(HOME), K(END), K(PAGEUP),
	K(PAGEDOWN), K(UP), K(DOWN), K(LEFT), K(RIGHT), K(SCROLLLOCK), K(PAUSE), K(SYSRQ), K(NUMLOCK),
	K(CAPSLOCK), K(COMPOSE),
	K(A), K(B), K(C), K(D), K(E), K(F), K(G), K(H), K(I), K(J), K(K), K(L), K(M), K(N), K(O), K(P), K(Q),
	K(R), K(S), K(T), K(U), K(V), K(W), K(X), K(Y), K(Z),
	K(0), K(1), K(2), K(3), K(4), K(5), K(6), K(7), K(8), K(9),
};
#undef K

int nr_single_chord_parse(const char *text, struct nr_single_chord *chord, struct nr_error *err)
{
	char *copy = strdup(text ? text : ""), *tok, *save = NULL;
	int rc = 0;

	memset(chord, 0, sizeof(*chord));
	if (!copy)
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	for (tok = strtok_r(copy, "+", &save); tok && rc == 0; tok = strtok_r(NULL, "+", &save)) {
		size_t i, n = sizeof(key_names) / sizeof(key_names[0]);
		if (strncasecmp(tok, "KEY_", 4) == 0)
			tok += 4;
		for (i = 0; i < n && strcasecmp(key_names[i].name, tok) != 0; i++)
			;
		if (i == n)
			rc = nr_error_set(err, -NR_E_INVAL, "'%s' in the escape chord '%s' is not a key name: use names "
					  "such as leftctrl, rightalt, f12, end, joined by '+'", tok, text);
		else if (chord->n == NR_SINGLE_CHORD_MAX)
			rc = nr_error_set(err, -NR_E_INVAL, "the escape chord '%s' has more than %d keys", text,
					  NR_SINGLE_CHORD_MAX);
		else
			chord->keys[chord->n++] = key_names[i].code;
	}
	if (rc == 0 && chord->n < 2)
		rc = nr_error_set(err, -NR_E_INVAL, "the escape chord '%s' needs at least two keys (a key alone is "
				  "typed by accident)", text ? text : "");
	free(copy);
	return rc;
}

/* ------------------------------------------------------------------ the keyboards -- */

struct nr_single_keys {
	int *fds;
	size_t n;
	unsigned char down[KEY_MAX / 8 + 1];
};

int nr_single_keys_open(const struct nr_ctx *ctx, struct nr_single_keys **out, struct nr_error *err)
{
	char *dir = nr_ctx_sys_path(ctx, nr_ctx_get(ctx, "single.input"));
	struct nr_single_keys *k = calloc(1, sizeof(*k));
	DIR *d;
	struct dirent *e;

	*out = NULL;
	if (!dir || !k) {
		free(dir);
		free(k);
		return nr_error_set(err, -NR_E_NOMEM, NULL);
	}
	if ((d = opendir(dir))) {
		while ((e = readdir(d))) {
			char path[4400];
			int fd, *grown;
			if (strncmp(e->d_name, "event", 5) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0)
				continue;       /* not ours to read (the chord then needs another keyboard) */
			if (!(grown = realloc(k->fds, (k->n + 1) * sizeof(*grown)))) {
				close(fd);
				break;
			}
			k->fds = grown;
			k->fds[k->n++] = fd;
		}
		closedir(d);
	}
	free(dir);
	*out = k;
	return 0;
}

size_t nr_single_keys_count(const struct nr_single_keys *keys)
{
	return keys ? keys->n : 0;
}

static bool is_down(const struct nr_single_keys *k, unsigned code)
{
	return code <= KEY_MAX && (k->down[code / 8] & (1u << (code % 8)));
}

static bool chord_down(const struct nr_single_keys *k, const struct nr_single_chord *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (!is_down(k, c->keys[i]))
			return false;
	return c->n > 0;
}

bool nr_single_keys_chord(struct nr_single_keys *k, const struct nr_single_chord *chord)
{
	struct input_event ev[64];

	if (!k)
		return false;
	for (size_t i = 0; i < k->n; i++) {
		ssize_t got;
		while ((got = read(k->fds[i], ev, sizeof(ev))) > 0) {
			for (size_t j = 0; j < (size_t)got / sizeof(ev[0]); j++) {
				unsigned code = ev[j].code;
				if (ev[j].type != EV_KEY || code > KEY_MAX)
					continue;
				if (ev[j].value)        /* pressed, or held */
					k->down[code / 8] |= (unsigned char)(1u << (code % 8));
				else
					k->down[code / 8] &= (unsigned char)~(1u << (code % 8));
				/* all down at one moment: later events must not undo it */
				if (chord_down(k, chord))
					return true;
			}
		}
	}
	return false;
}

void nr_single_keys_free(struct nr_single_keys *keys)
{
	if (!keys)
		return;
	for (size_t i = 0; i < keys->n; i++)
		close(keys->fds[i]);
	free(keys->fds);
	free(keys);
}

/* ------------------------------------------------------------------ the watchdog -- */

const char *nr_single_end_text(enum nr_single_end end)
{
	switch (end) {
	case NR_SINGLE_NEVER_RAN: return "the VM was not running in time after the hand-off";
	case NR_SINGLE_STOPPED: return "the VM stopped";
	case NR_SINGLE_CHORD: return "the escape chord was typed: the VM was destroyed";
	}
	return "?";
}

static long long clock_now(const struct nr_single_clock *c)
{
	return c && c->now_ms ? c->now_ms(c->data) : nr_now_ms();
}

static void clock_sleep(const struct nr_single_clock *c, long ms)
{
	if (c && c->sleep_ms)
		c->sleep_ms(c->data, ms);
	else
		nr_sleep_ms(ms);
}

static long param_num(const struct nr_ctx *ctx, const char *name, long fallback)
{
	const char *s = nr_ctx_get(ctx, name);
	char *end;
	long v = s ? strtol(s, &end, 10) : -1;

	return s && *s && !*end && v >= 0 ? v : fallback;
}

int nr_single_watch(const struct nr_ctx *ctx, const struct nr_single_vm *vm, const struct nr_single_clock *clock,
		    const struct nr_plan_opts *release_opts, enum nr_single_end *end, struct nr_error *err)
{
	long long limit_ms = param_num(ctx, "single.start_s", 60) * 1000, start = clock_now(clock);
	long poll_ms = param_num(ctx, "single.poll_ms", 250);
	struct nr_single_chord chord;
	struct nr_single_keys *keys = NULL;
	bool ran = false;
	int rc;

	if ((rc = nr_single_chord_parse(nr_ctx_get(ctx, "single.chord"), &chord, err)) < 0 ||
	    (rc = nr_single_keys_open(ctx, &keys, err)) < 0)
		return rc;
	/* once it ran, a VM that cannot be seen (libvirt restarting) may still hold the GPU:
	 * only one seen not running is given up */
	for (;;) {
		int r = vm->running(vm->data, NULL);

		if (nr_single_keys_chord(keys, &chord)) {
			*end = NR_SINGLE_CHORD;
			if (r != 0)
				vm->destroy(vm->data, NULL);    /* the release below says what is left */
			break;
		}
		if (r == 1)
			ran = true;
		else if (r == 0 && ran) {
			*end = NR_SINGLE_STOPPED;
			break;
		} else if (!ran && clock_now(clock) - start >= limit_ms) {
			*end = NR_SINGLE_NEVER_RAN;
			if (r != 0)
				vm->destroy(vm->data, NULL);    /* starting too slowly, or cannot tell */
			break;
		}
		clock_sleep(clock, poll_ms);
	}
	nr_single_keys_free(keys);
	return nr_single_release(ctx, release_opts, err);
}
