#!/bin/sh
# A stand-in for looking-glass-client in the tests.
# - Records each run in $FAKE_LG_RECORD: a line "run PID", then one line per argument.
# - Takes its behaviour for this run from the first line of $FAKE_LG_MODES (the line is
#   consumed): "crash" dies by SIGSEGV, "fail" exits 3, "exit0" exits 0; no line (or no
#   file) means "run": stay up, ignoring SIGTERM, until killed.
# - Ignores SIGTERM in every mode, so stop has to fall back to SIGKILL.
trap '' TERM
if [ -n "${FAKE_LG_RECORD:-}" ]; then
	{ echo "run $$"; printf '%s\n' "$@"; } >>"$FAKE_LG_RECORD"
fi
mode=run
if [ -n "${FAKE_LG_MODES:-}" ] && [ -s "$FAKE_LG_MODES" ]; then
	mode=$(head -n 1 "$FAKE_LG_MODES")
	tail -n +2 "$FAKE_LG_MODES" >"$FAKE_LG_MODES.tmp" && mv "$FAKE_LG_MODES.tmp" "$FAKE_LG_MODES"
fi
echo "fake looking-glass-client: mode $mode"
case $mode in
crash) kill -SEGV $$; sleep 5 ;;
fail) echo "fake looking-glass-client: failing on purpose" >&2; exit 3 ;;
exit0) exit 0 ;;
*) exec sleep 300 ;;
esac
