/* The in-memory platform, for tests: a clipboard and a resolution held in memory;
 * launch really starts the program (spawn_detached). The system's test events (POSIX:
 * SIGUSR1, SIGUSR2) play a user copying text in the guest and a user changing the
 * resolution: both are reported as events. Portable C, for every system. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

struct memory {
	char mime[64];
	struct nr_buf clip;
	int width, height;
	int copies;
};

static volatile sig_atomic_t user_copied, user_resized;

static void on_test_event(int what)
{
	if (what == PLATFORM_CLIPBOARD_CHANGED)
		user_copied = 1;
	else
		user_resized = 1;
}

static int mem_clipboard_get(struct agent_platform *p, const char *mime, struct nr_buf *out,
			     const char **code, char *why)
{
	struct memory *m = p->state;

	if (strcmp(mime, m->mime) != 0) {
		*code = "failed";
		snprintf(why, 256, "the clipboard holds %s, not %.100s", m->mime[0] ? m->mime : "nothing", mime);
		return -1;
	}
	nr_buf_append(out, m->clip.data ? m->clip.data : "", m->clip.len);
	return 0;
}

static int mem_clipboard_set(struct agent_platform *p, const char *mime, const void *data, size_t len,
			     const char **code, char *why)
{
	struct memory *m = p->state;

	snprintf(m->mime, sizeof(m->mime), "%s", mime);
	m->clip.len = 0;
	nr_buf_append(&m->clip, data, len);
	if (m->clip.oom) {
		nr_buf_done(&m->clip);
		*code = "failed";
		snprintf(why, 256, "out of memory");
		return -1;
	}
	return 0;
}

static int mem_launch(struct agent_platform *p, const char *program, const char *const *argv, long long *pid,
		      const char **code, char *why)
{
	(void)p;
	(void)program;
	if (spawn_detached(argv, pid, why) < 0) {
		*code = "failed";
		return -1;
	}
	return 0;
}

static int mem_get_resolution(struct agent_platform *p, int *w, int *h, const char **code, char *why)
{
	struct memory *m = p->state;

	*w = m->width;
	*h = m->height;
	return 0;
}

static int mem_set_resolution(struct agent_platform *p, int w, int h, const char **code, char *why)
{
	struct memory *m = p->state;

	m->width = w;
	m->height = h;
	return 0;
}

static int mem_shutdown(struct agent_platform *p, const char *mode, const char **code, char *why)
{
	return 0; /* the agent exits after the reply, as if the guest went down */
}

static void mem_os_name(struct agent_platform *p, char *out, size_t size)
{
	snprintf(out, size, "in-memory test platform");
}

static int mem_poll_changes(struct agent_platform *p, char *mime, size_t mime_size, long long *size)
{
	struct memory *m = p->state;
	int changed = 0;

	if (user_copied) {
		user_copied = 0;
		char text[64];
		int n = snprintf(text, sizeof(text), "guest copy %d", ++m->copies);
		snprintf(m->mime, sizeof(m->mime), "text/plain");
		m->clip.len = 0;
		nr_buf_append(&m->clip, text, (size_t)n);
		snprintf(mime, mime_size, "%s", m->mime);
		*size = n;
		changed |= PLATFORM_CLIPBOARD_CHANGED;
	}
	if (user_resized) {
		user_resized = 0;
		if (m->width == 1280) {
			m->width = 1920;
			m->height = 1080;
		} else {
			m->width = 1280;
			m->height = 800;
		}
		changed |= PLATFORM_RESOLUTION_CHANGED;
	}
	return changed;
}

static void mem_free(struct agent_platform *p)
{
	struct memory *m = p->state;

	nr_buf_done(&m->clip);
	free(m);
	free(p);
}

struct agent_platform *platform_memory_new(void)
{
	struct agent_platform *p = calloc(1, sizeof(*p));
	struct memory *m = calloc(1, sizeof(*m));

	if (!p || !m) {
		free(p);
		free(m);
		return NULL;
	}
	nr_buf_init(&m->clip);
	m->width = 1920;
	m->height = 1080;
	sys_on_test_events(on_test_event);
	*p = (struct agent_platform){
		.name = "memory", .state = m,
		.clipboard_get = mem_clipboard_get, .clipboard_set = mem_clipboard_set,
		.launch = mem_launch, .get_resolution = mem_get_resolution,
		.set_resolution = mem_set_resolution, .shutdown = mem_shutdown,
		.os_name = mem_os_name, .poll_changes = mem_poll_changes, .free = mem_free,
	};
	return p;
}
