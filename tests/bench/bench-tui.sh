#!/bin/sh
# neuron-tui beside htop: start to first frame, keypress to redraw, idle CPU, max RSS
# (see tui_bench.py). Figures and ratios only; never a pass or a fail.
exec "${PYTHON:-/usr/bin/python3}" "$(dirname "$0")/tui_bench.py"
