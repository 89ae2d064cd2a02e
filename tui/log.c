/* The log: lines that commands and operations printed, appended from any thread,
 * kept in a ring, shown by the log panel and (the newest line) in the status line. */
#include <stdlib.h>
#include <string.h>

#include "tui.h"
#include "neuron/util.h"

/* One call may carry several lines (a command's output): each becomes a log line. */
void tui_log_raw(struct tui *t, const char *text)
{
	const char *s = text ? text : "";

	pthread_mutex_lock(&t->log_lock);
	do {
		size_t n = strcspn(s, "\n");
		char *line = malloc(n + 1);
		size_t slot;

		if (!line)
			break;
		memcpy(line, s, n);
		line[n] = '\0';
		if (t->log_count == TUI_LOG_LINES) {
			free(t->log[t->log_first]);
			t->log[t->log_first] = NULL;
			t->log_first = (t->log_first + 1) % TUI_LOG_LINES;
			t->log_count--;
		}
		slot = (t->log_first + t->log_count) % TUI_LOG_LINES;
		t->log[slot] = line;
		t->log_count++;
		s += n;
		if (*s == '\n')
			s++;
	} while (*s);
	pthread_mutex_unlock(&t->log_lock);
}

void tui_log(struct tui *t, const char *fmt, ...)
{
	struct nr_buf b;
	va_list ap;

	nr_buf_init(&b);
	va_start(ap, fmt);
	nr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (!b.oom)
		tui_log_raw(t, b.data ? b.data : "");
	nr_buf_done(&b);
}

size_t tui_log_count(struct tui *t)
{
	size_t n;

	pthread_mutex_lock(&t->log_lock);
	n = t->log_count;
	pthread_mutex_unlock(&t->log_lock);
	return n;
}

void tui_log_line(struct tui *t, size_t i, char *buf, size_t size)
{
	pthread_mutex_lock(&t->log_lock);
	if (i < t->log_count)
		tui_clean(t, buf, size, t->log[(t->log_first + i) % TUI_LOG_LINES]);
	else if (size)
		buf[0] = '\0';
	pthread_mutex_unlock(&t->log_lock);
}

void tui_log_done(struct tui *t)
{
	for (size_t i = 0; i < TUI_LOG_LINES; i++) {
		free(t->log[i]);
		t->log[i] = NULL;
	}
	t->log_count = t->log_first = 0;
}
