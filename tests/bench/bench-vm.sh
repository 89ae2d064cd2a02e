#!/bin/sh
# make bench, VM part: the profile -> domain XML path and vm create, each beside a peer run
# in the same session on the same input:
#   vm xml          beside virt-xml-validate of its output (libvirt's own look at the XML) and
#                   the usual script (PyYAML + string templating, no checks);
#   vm create+start beside virsh define + start of the same XML, both on test:///default.
# Prints the median of N runs in ms and the ratios; never fails on time.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
PYTHON=${PYTHON:-/usr/bin/python3}
top=$(cd "$(dirname "$0")/../.." && pwd)
sr="$BUILD/sysroots/demo"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
N=${BENCH_RUNS:-30}
cd "$top" || exit 1
[ -d "$sr" ] || make --no-print-directory "$sr/.stamp" >/dev/null || exit 1

# median_ms CMD...: the median wall time of N runs, in ms (fractional)
median_ms() {
	i=0
	: >"$tmp/times"
	while [ $i -lt "$N" ]; do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "bench: $* failed" >&2; return 1; }
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 )) >>"$tmp/times"
		i=$((i + 1))
	done
	sort -n "$tmp/times" | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.2f", m / 1000}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

prof=config/profiles/windows11.yaml
"$NEURONCTL" --sysroot "$sr" vm xml --profile $prof >"$tmp/d.xml" || exit 1
cat >"$tmp/script.py" <<'PY'
import string, sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
t = string.Template(open(sys.argv[2]).read())
print(t.substitute(name=p["name"], memory=p["memory"], vcpus=p["cpu"]["vcpus"]))
PY
sed -e 's#<name>windows11</name>#<name>$name</name>#' -e 's#>8192<#>$memory<#' -e 's#>4</vcpu>#>$vcpus</vcpu>#' \
	templates/windows11.xml >"$tmp/t.xml"

a=$(median_ms "$NEURONCTL" --sysroot "$sr" vm xml --profile $prof) || exit 1
b=$(median_ms virt-xml-validate "$tmp/d.xml" domain) || exit 1
c=$(median_ms "$PYTHON" "$tmp/script.py" $prof "$tmp/t.xml") || exit 1
echo "vm xml (windows11 on demo, scan + pinning + build):  ${a} ms"
echo "  virt-xml-validate of that XML:                      ${b} ms   neuronctl/validate = $(ratio "$a" "$b")"
echo "  PyYAML + string.Template (no checks, no devices):   ${c} ms   neuronctl/script   = $(ratio "$a" "$c")"

sed -e 's#<name>win11</name>#<name>bench</name>#' "$tmp/d.xml" >"$tmp/v.xml"
d=$(median_ms "$NEURONCTL" --connect test:///default --sysroot "$sr" vm create --profile $prof --set disk=none --start) || exit 1
e=$(median_ms virsh -q -c test:///default "define $tmp/v.xml; start bench") || exit 1
echo "vm create --start on test:///default:                 ${d} ms"
echo "  virsh define + start of the same XML:               ${e} ms   neuronctl/virsh    = $(ratio "$d" "$e")"
echo "($N runs each, medians)"
