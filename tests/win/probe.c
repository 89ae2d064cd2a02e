/* probe.exe open PATH | shares DIR: the Windows agent's own code (agent/win/apps.c,
 * shares.c) called in-process, for what no neuronctl command asks over the wire yet:
 * open with the guest's default app (prints the pid), and the shares of DIR\shares.conf
 * (prints NAME=PATH, one a line). Built by tests/win/run.sh from the helper's sources. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/platform.h"
#include "../../agent/win/win.h"

static int print_share(void *ctx, const struct agent_share *s)
{
	printf("%s=%s\n", s->name, s->path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *code = "";
	char why[256] = "";
	long long pid = 0;
	int rc;

	if (argc != 3)
		return 2;
	if (strcmp(argv[1], "open") == 0) {
		rc = win_open(argv[2], NULL, &pid, &code, why);
		if (rc == 0)
			printf("%lld\n", pid);
	} else if (strcmp(argv[1], "shares") == 0)
		rc = win_shares(NULL, argv[2], print_share, NULL, &code, why);
	else
		return 2;
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", code, why);
	return rc < 0 ? 1 : 0;
}
