/* A tool of this machine run with its input and output in memory, bounded in time
 * (core/base/tool.c): the guest agent's Linux platform and the host's desktop clipboard
 * (neuron/desktop.h) run xclip, wl-copy, wl-paste and xrandr through it. */
#ifndef NEURON_TOOL_H
#define NEURON_TOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "neuron/util.h"

/* Nothing a tool writes may pass this (one agent transfer's 64 MiB). */
#define NR_TOOL_OUTPUT_MAX (64u * 1024u * 1024u)

/* Run argv (PATH search) with input on stdin, collecting stdout into out (when not NULL;
 * stdout is /dev/null otherwise, so a clipboard owner that forks is not waited for), for
 * at most timeout_ms; stderr goes to /dev/null. The exit status (128 when a signal ended
 * it), or -1 with why filled (256 bytes), -2 when it did not finish in time (it is
 * killed, with its process group). */
int nr_tool_run(const char *const *argv, const void *input, size_t input_len, struct nr_buf *out, int timeout_ms,
		char *why);
/* True when name is an executable on PATH. */
bool nr_tool_have(const char *name);

#endif
