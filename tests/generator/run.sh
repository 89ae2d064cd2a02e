#!/bin/sh
# The sysroot generator cross-checked with pciutils' lspci, and scan --json with an
# independent implementation of DESIGN.md's verdict rules.
set -u
: "${NEURONCTL:?}" "${SYSROOTS:?}"
top=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$top/tests/generator/check.py" "$NEURONCTL" "$SYSROOTS" "$top"/tests/fixtures/machines/*.yaml
