#!/bin/bash
# Drive the bash completion function as readline would (COMP_WORDS, COMP_CWORD) and compare
# COMPREPLY with what is true of the program and the fixture machines.
#   completion.sh COMPLETION-FILE NEURONCTL      (SYSROOTS set; fixtures under tests/fixtures)
set -u
comp_file=$1 prog=$2
: "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
errs=$(mktemp)
trap 'rm -f "$errs"' EXIT

# shellcheck disable=SC1090
source "$comp_file"
if [[ $(complete -p neuronctl 2>/dev/null) != *"-F _neuronctl"* ]]; then
	echo "FAIL $comp_file does not register _neuronctl for neuronctl"
	fail=$((fail + 1))
fi

# complete WORD...: the last word is the one being completed; prints COMPREPLY sorted. The
# line is the words joined by blanks, a word "=" glued to its neighbours (readline's view of
# "--sysroot=DIR"). COMP_WORDBREAKS is bash's default unless the caller set WB.
complete_words() {
	local line=$prog w glue=" "
	for w in "$@"; do
		if [[ $w == "=" ]]; then line+="="; glue=; continue; fi
		line+="$glue$w"
		glue=" "
	done
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMP_WORDS=("$prog" "$@")
	COMP_CWORD=$#
	COMP_WORDBREAKS=${WB-$' \t\n"\'><=;|&(:'}
	COMPREPLY=()
	_neuronctl neuronctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>"$errs"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u
	# Completion never writes to the terminal.
	[[ -s $errs ]] && echo "STDERR: $(head -c 200 "$errs")"
}
# expect "WANTED (one a line)" WORD...: COMPREPLY is exactly that set.
expect() {
	local want got
	want=$(printf '%s\n' "$1" | sed '/^$/d' | sort -u)
	shift
	got=$(complete_words "$@")
	if [[ $got == "$want" ]]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL completing 'neuronctl $*': got [$(echo $got)], want [$(echo $want)]"
	fi
}
# expect_has "WORDS" WORD...: COMPREPLY contains each of WORDS.
expect_has() {
	local w got missing=
	got=$(complete_words "${@:2}")
	for w in $1; do grep -qxF -- "$w" <<<"$got" || missing+=" $w"; done
	if [[ -z $missing ]]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL completing 'neuronctl ${*:2}': missing$missing (got: $(echo $got))"
	fi
}

# The command tree, one path a line ("vm stop"), from the program's own table check.
tree=$("$prog" --self-test | grep -v ' checked$')
[[ -n $tree ]] || { echo "FAIL $prog --self-test lists no commands"; fail=$((fail + 1)); }
# Commands: exactly the top of the command tree, plus "help".
table=$(grep -v ' ' <<<"$tree")
expect "$table"$'\nhelp' ""
first=$(head -n 1 <<<"$table")
expect "$(grep "^${first:0:2}" <<<"$table$'\n'help")" "${first:0:2}"
globals="--sysroot"$'\n'"--root"$'\n'"--connect"$'\n'"--param"$'\n'"--version"$'\n'"--self-test"$'\n'"--help"
expect "$globals" "--"
expect "$globals" --root "$SYSROOTS/demo" "--"
expect "--json"$'\n'"--gpu"$'\n'"--vm"$'\n'"--help" check --
expect "--json"$'\n'"--gpu"$'\n'"--vm"$'\n'"--help" --sysroot "$SYSROOTS/demo" check --json -
expect "--connect" --con
expect "qemu:///system"$'\n'"qemu:///session"$'\n'"test:///default" --connect ""
expect "test:///default" --connect t
# Directories for --sysroot / --root, in both spellings.
expect "$SYSROOTS/demo" --sysroot "$SYSROOTS/dem"
expect "$SYSROOTS/demo" --root = "$SYSROOTS/dem"
# Every node of the tree, at any depth: a group completes to exactly its children (from the
# tree, not from its --help), a command to exactly its own options (from its --help) and --help.
while IFS= read -r node; do
	read -r -a words <<<"$node"
	subs=$(awk -v n="$node" 'index($0, n " ") == 1 && split(substr($0, length(n) + 2), w, " ") == 1 { print w[1] }' <<<"$tree")
	if [[ -n $subs ]]; then
		expect "$subs" "${words[@]}" ""
		expect "$subs" --sysroot "$SYSROOTS/demo" "${words[@]}" ""
	else
		opts=$("$prog" "${words[@]}" --help 2>/dev/null | sed -n '/^Options:$/,/^$/p' |
			grep -oE '^  --[a-z0-9][-a-z0-9]*' | sed 's/^  //')
		expect "$opts"$'\n'"--help" "${words[@]}" --
	fi
done <<<"$tree"

# GPU addresses: the class 03xx devices of each fixture machine, read from its YAML.
gpus=$(/usr/bin/python3 - "$top"/tests/fixtures/machines/*.yaml <<'PY'
import os, sys, yaml
for path in sys.argv[1:]:
    m = yaml.safe_load(open(path)) or {}
    name = os.path.basename(path)[:-5]
    print(name)   # a machine without a GPU still gets a line
    for d in m.get("devices") or []:
        if str(d.get("class", "")).lower().startswith("03"):
            a = str(d["addr"]).lower()
            if a.count(":") == 1:
                a = "0000:" + a
            print(name, a)
PY
)
for m in $(awk '{ print $1 }' <<<"$gpus" | sort -u); do
	want=$(awk -v m="$m" '$1 == m && NF == 2 { print $2 }' <<<"$gpus")
	expect "$want" --sysroot "$SYSROOTS/$m" check --gpu ""
done
want=$(awk '$1 == "demo" && NF == 2 { print $2 }' <<<"$gpus")
expect "$want" --sysroot="$SYSROOTS/demo" check --json --gpu = ""
expect "$want" --sysroot = "$SYSROOTS/demo" check --gpu=""
expect "$SYSROOTS/demo" --sysroot="$SYSROOTS/dem"
# readline replaces what follows the last ':' or '=' of the word: the answers start there.
expect "01:00.0"$'\n'"05:00.0" --sysroot "$SYSROOTS/demo" check --gpu 0000:0
expect "01:00.0" --sysroot "$SYSROOTS/demo" check --gpu=0000:01
# With '=' and ':' not word breaks, the whole word is replaced.
WB=$' \t\n' expect "$(sed 's/^/--gpu=/' <<<"$want")" --sysroot "$SYSROOTS/demo" check --gpu=""
WB=$' \t\n' expect "0000:01:00.0"$'\n'"0000:05:00.0" --sysroot "$SYSROOTS/demo" check --gpu 0000:0
# An option whose value is one of a few words ("--mode shm|kvmfr"), and its value skipped.
if "$prog" lg setup plan --help 2>/dev/null | grep -q -- '--mode shm|kvmfr'; then
	expect "shm"$'\n'"kvmfr" lg setup plan --mode ""
	expect "kvmfr" lg setup plan --mode k
	expect_has "--user --json" lg setup plan --mode kvmfr --
fi
if "$prog" vfio plan --help >/dev/null 2>&1; then
	expect "0000:01:00.0"$'\n'"0000:05:00.0"$'\n'"0000:15:00.0" --sysroot "$SYSROOTS/demo" vfio plan --gpu ""
	expect "mkinitcpio"$'\n'"dracut"$'\n'"initramfs-tools" vfio plan --initramfs ""
	expect_has "--gpu --yes --no-regenerate --json" vfio apply --
fi
# Nothing sensible to offer: nothing offered, and no error.
expect "" --sysroot "$SYSROOTS/demo" scan ""
expect "" --sysroot "$SYSROOTS/nowhere" check --gpu ""

# VM names, where the program has `vm list`: the test driver's own domain.
if "$prog" vm list --help >/dev/null 2>&1; then
	for sub in $("$prog" vm --help | awk '$0 == "Subcommands:" { s = 1; next } s && !/^ / { exit }
		s { print ($1 == "vm" && NF > 1 ? $2 : $1) }'); do
		usage=$("$prog" vm "$sub" --help | head -n 1)
		[[ $usage == "usage: neuronctl vm $sub NAME"* ]] || continue
		expect "test" --sysroot "$SYSROOTS/demo" --connect test:///default vm "$sub" ""
		expect "test" --sysroot "$SYSROOTS/demo" --connect test:///default vm "$sub" t
		expect "" --sysroot "$SYSROOTS/demo" --connect test:///default vm "$sub" x
	done
	# Looking Glass takes a VM too; a VM name given, nothing more to offer.
	if "$prog" lg stop --help >/dev/null 2>&1; then
		expect "test" --sysroot "$SYSROOTS/demo" --connect test:///default lg stop ""
		expect "" --sysroot "$SYSROOTS/demo" --connect test:///default lg stop test ""
	fi
	# Another connection, another list: none without a daemon.
	expect "" --sysroot "$SYSROOTS/demo" --connect "qemu:///nowhere-$$" vm start ""
fi

summary completion
