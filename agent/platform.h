/* neuron-agent's platform layer: what differs between guest systems. A port (Windows)
 * adds one platform file with its own struct agent_platform. */
#ifndef NEURON_AGENT_PLATFORM_H
#define NEURON_AGENT_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/util.h"

enum { PLATFORM_CLIPBOARD_CHANGED = 1, PLATFORM_RESOLUTION_CHANGED = 2 };

struct agent_platform {
	const char *name;
	void *state;
	/* Each returns 0, or -1 with why filled (at most 256 bytes) and *code one of the
	 * protocol's error codes ("unsupported", "failed", "bad-request"). */
	int (*clipboard_get)(struct agent_platform *p, const char *mime, struct nr_buf *out,
			     const char **code, char *why);
	int (*clipboard_set)(struct agent_platform *p, const char *mime, const void *data, size_t len,
			     const char **code, char *why);
	int (*launch)(struct agent_platform *p, const char *program, const char *const *argv, long long *pid,
		      const char **code, char *why);
	int (*get_resolution)(struct agent_platform *p, int *width, int *height, const char **code, char *why);
	int (*set_resolution)(struct agent_platform *p, int width, int height, const char **code, char *why);
	int (*shutdown)(struct agent_platform *p, const char *mode, const char **code, char *why);
	/* "Debian GNU/Linux 12 (Linux 6.1.0)" */
	void (*os_name)(struct agent_platform *p, char *out, size_t size);
	/* What changed since the last call (PLATFORM_*_CHANGED bits); the mime and size
	 * of the new clipboard content. */
	int (*poll_changes)(struct agent_platform *p, char *mime, size_t mime_size, long long *size);
	void (*free)(struct agent_platform *p);
};

struct agent_platform *platform_memory_new(void);
struct agent_platform *platform_linux_new(void);

/* posix_spawn helpers shared by the POSIX platforms (agent/spawn.c). */
/* Start argv[0] (PATH search), not waiting; its pid in *pid. */
int spawn_detached(const char *const *argv, long long *pid, char *why);
/* Run argv with input on stdin, collecting stdout into out (when not NULL), for at most
 * timeout_ms; the exit status, or -1 with why filled, -2 when it did not finish in time
 * (it is killed, with its process group). */
int spawn_run(const char *const *argv, const void *input, size_t input_len, struct nr_buf *out, int timeout_ms,
	      char *why);
/* True when name is an executable on PATH. */
bool spawn_have(const char *name);

#endif
