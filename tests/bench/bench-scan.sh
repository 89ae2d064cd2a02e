#!/bin/sh
# neuronctl scan beside lspci -nn and the shell IOMMU loop (see scan_bench.py).
exec "${PYTHON:-/usr/bin/python3}" "$(dirname "$0")/scan_bench.py"
