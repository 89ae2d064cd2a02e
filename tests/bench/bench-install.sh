#!/bin/sh
# The bash completion's cost per TAB, beside its peers measured in the same run: a static
# word list (compgen -W, what a generated completion file would do) and one bare run of
# `neuronctl --help` (the floor of any completion that asks the program). Cold: a fresh shell,
# so the help cache is empty; warm: the same command line completed again. And make install
# into a DESTDIR beside cp -r of the same tree. Figures and ratios only; never a pass or a fail.
set -u
: "${BUILD:?}"
N=${NEURONCTL:-$BUILD/neuronctl}
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
S=$BUILD/sysroots/demo
[ -d "$S" ] || make --no-print-directory -s -C "$top" BUILD="$BUILD" sysroots >/dev/null
runs=30

bash -c '
	source "$1"; N=$2; S=$3; runs=$4
	now() { date +%s%N; }
	tab() { COMP_LINE="$N $*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _neuronctl; }
	us() { echo $(( ($2 - $1) / runs / 1000 )); }
	ratio() { awk "BEGIN { printf \"%.1f\", $1 / ($2 ? $2 : 1) }"; }
	t0=$(now); for ((i = 0; i < runs; i++)); do "$N" --help >/dev/null; done; floor=$(us "$t0" "$(now)")
	t0=$(now); for ((i = 0; i < runs; i++)); do COMPREPLY=($(compgen -W "scan check vfio gpu vm lg agent help" -- v)); done
	static=$(us "$t0" "$(now)")
	for what in "v" "lg setup plan --m" "--sysroot $S check --gpu "; do
		t0=$(now); for ((i = 0; i < runs; i++)); do _neuronctl_cache=(); _neuronctl_cache_time=(); tab $what; done
		cold=$(us "$t0" "$(now)")
		t0=$(now); for ((i = 0; i < runs; i++)); do tab $what; done
		warm=$(us "$t0" "$(now)")
		echo "TAB after \"neuronctl ${what/$S/DEMO}\": cold ${cold} us, warm ${warm} us;" \
			"neuronctl --help ${floor} us (x$(ratio "$warm" "$floor") warm); static compgen -W ${static} us"
	done
' _ "$top/completion/neuronctl.bash" "$N" "$S" "$runs"

now() { date +%s%N; }
t0=$(now)
make --no-print-directory -s -C "$top" BUILD="$BUILD" PREFIX=/usr DESTDIR="$tmp/a" install >/dev/null 2>&1
ours=$(( ($(now) - t0) / 1000000 ))
t0=$(now)
cp -r "$tmp/a" "$tmp/b"
peer=$(( ($(now) - t0) / 1000000 ))
echo "make install (everything built): ${ours} ms; cp -r of the installed tree: ${peer} ms;" \
	"ratio $(awk "BEGIN { printf \"%.1f\", $ours / ($peer ? $peer : 1) }")"
