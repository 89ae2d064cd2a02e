#!/bin/sh
# The interactive commands that print a few device names (vfio plan, vm xml, check) beside
# neuronctl --version, the process alone (see names_bench.py). Figures and ratios only.
exec "${PYTHON:-/usr/bin/python3}" "$(dirname "$0")/names_bench.py"
