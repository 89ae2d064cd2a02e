#!/bin/sh
# The documented surface of the programs, checked against the programs themselves:
#  - every command and subcommand in `neuronctl --help` answers --help with exit 0 and a usage
#    line, and an unknown option with exit 2; --version and the exit statuses are consistent;
#  - the man pages render without a warning and document every command, subcommand, option
#    and parameter that exists (and no command that does not);
#  - the bash completion completes commands, subcommands, options, GPU addresses and VM names
#    against the fixture machines.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
: "${BUILD:?}" "${NEURONCTL:?}" "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
scratch
export LC_ALL=C MANWIDTH=160 MANPAGER=cat PAGER=cat
unset MANOPT


# run PROG ARGS...: stdout in $tmp/out, stderr in $tmp/err, exit status in $rc.
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }

# The entries of a help section ("Commands:", "Subcommands:"): the first word of each line,
# or the second where the first is the command itself ("  gpu bind ADDR   ...").
section_words() {
	awk -v s="$1" -v c="${2:-}" '$0 == s { in_s = 1; next } in_s && ($0 == "" || $0 !~ /^ /) { exit }
		in_s { print ($1 == c && NF > 1 ? $2 : $1) }'
}
# The options ("--name") of a help text's "Options:" (or other) section.
section_options() {
	awk -v s="$1" '$0 == s { in_s = 1; next } in_s && $0 == "" { exit } in_s { print }' |
		grep -oE '^[[:space:]]+(-[a-zA-Z], )?--[a-z0-9][-a-z0-9.]*' | grep -oE -- '--[a-z0-9][-a-z0-9.]*'
}
# A rendered man page (plain text).
render() { man -l "$1" 2>/dev/null | col -bx; }

# ---- neuronctl --help, every command, every subcommand --------------------------------------
run "$NEURONCTL" --help
top_help=$(cat "$tmp/out")
check "neuronctl --help exits 0 with a usage line" test "$rc" = 0 -a "$(head -n 1 "$tmp/out" | cut -c1-17)" = "usage: neuronctl "
commands=$(section_words "Commands:" <<<"$top_help")
check "neuronctl --help lists commands" test -n "$commands"
# The command tree is the source: `neuronctl --self-test` checks it and lists every command path
# ("vm stop"); --help lists exactly its top-level commands.
run "$NEURONCTL" --self-test
check "neuronctl --self-test passes" test "$rc" = 0 -a ! -s "$tmp/err"
tree=$(grep -v ' checked$' "$tmp/out")
check "neuronctl --self-test lists the command tree" test -n "$tree"
table=$(grep -v ' ' <<<"$tree" | sort)
check "neuronctl --help lists exactly the top of the command tree" test "$table" = "$(sort <<<"$commands")"
run "$NEURONCTL" help
check "neuronctl help = --help" test "$rc" = 0 -a "$(cat "$tmp/out")" = "$top_help"
run "$NEURONCTL" --version
version=$(sed -n '1s/^neuronctl \([0-9][0-9.]*\)$/\1/p' "$tmp/out")
check "neuronctl --version prints 'neuronctl X.Y.Z', exit 0" test "$rc" = 0 -a -n "$version"
run "$NEURONCTL"
check "neuronctl without a command: exit 2, usage on stderr" test "$rc" = 2 -a ! -s "$tmp/out"
grep -q '^usage: neuronctl' "$tmp/err" || bad "neuronctl without a command: no usage line on stderr"
run "$NEURONCTL" no-such-command
check "unknown command: exit 2" test "$rc" = 2
run "$NEURONCTL" --no-such-option
check "unknown global option: exit 2" test "$rc" = 2
grep -q 'Exit status: 0 success, 1 failure, 2 usage error' <<<"$top_help" ||
	bad "neuronctl --help does not state the exit statuses"

# help_ok WORDS...: `neuronctl WORDS --help` exits 0, prints "usage: neuronctl WORDS" first, a
# help line, nothing on stderr; every option it lists is in its usage line (or [OPTIONS]);
# an unknown option exits 2 with the usage on stderr.
help_ok() {
	local what="neuronctl $*" usage o
	echo "$*" >>"$walked"
	run "$NEURONCTL" "$@" --help
	if [ "$rc" != 0 ] || [ -s "$tmp/err" ]; then
		bad "$what --help: exit $rc, stderr: $(head -c 200 "$tmp/err")"
		return
	fi
	usage=$(head -n 1 "$tmp/out")
	cp "$tmp/out" "$tmp/help"
	case "$usage " in
	"usage: $what "*) ok ;;
	*) bad "$what --help: first line is '$usage', not 'usage: $what ...'" ;;
	esac
	[ "$(sed -n 3p "$tmp/out")" != "" ] || bad "$what --help: no help text under the usage line"
	# The usage line and the options agree: each option in the usage line is explained, and
	# each explained option is in the usage line (or it says [OPTIONS]) unless the block of
	# options is one that sibling subcommands share word for word (lg setup plan|apply ...).
	sed -n '/^Options:$/,/^$/p' "$tmp/out" >"$tmp/opts"
	# (A command with subcommands may name its subcommands' options in its usage line.)
	grep -qx 'Subcommands:' "$tmp/out" ||
	for o in $(grep -oE -- '--[a-z0-9][-a-z0-9]*' <<<"$usage" | sort -u); do
		grep -qE -- "^ +(-[a-zA-Z], )?$o([^-a-z0-9]|$)" "$tmp/opts" ||
			bad "$what: the usage line names $o but --help does not explain it"
	done
	shared=no
	if [ $# -gt 1 ]; then
		for sib in $(subcommands_of "${@:1:$#-1}"); do
			[ "$sib" = "${!#}" ] && continue
			"$NEURONCTL" "${@:1:$#-1}" "$sib" --help 2>/dev/null | sed -n '/^Options:$/,/^$/p' >"$tmp/sib"
			[ -s "$tmp/opts" ] && cmp -s "$tmp/opts" "$tmp/sib" && shared=yes
		done
	fi
	for o in $(section_options "Options:" <"$tmp/out"); do
		case "$usage" in
		*"[OPTIONS]"*) ;;
		*"$o"*) ;;
		*) [ $shared = yes ] || bad "$what --help lists $o but its usage line does not: $usage" ;;
		esac
	done
	run "$NEURONCTL" "$@" --no-such-option
	if [ "$rc" = 2 ] && grep -q "^usage: neuronctl $1" "$tmp/err"; then
		ok
	else
		bad "$what --no-such-option: exit $rc (want 2 and the usage on stderr)"
	fi
	# A command with subcommands, given none; a command given too few or too many operands:
	# exit 2 with the usage, before it does anything (on the demo machine and a scratch root,
	# should it do something all the same).
	if grep -qx 'Subcommands:' "$tmp/help"; then
		usage_exit "$what without a subcommand" "$@"
		return
	fi
	local operands
	operands=$(required_operands "$usage" $#)
	if [ -n "$operands" ]; then
		usage_exit "$what without its $operands" "$@"
	elif [ -z "$(operands_of "$usage" $#)" ]; then
		usage_exit "$what with an extra argument" "$@" extra-argument
	fi
	[ -n "${NEURON_DOCS_DEBUG:-}" ] && echo "debug: $what: required [$operands] all [$(operands_of "$usage" $#)]"
	return 0
}

# safe_run ARGS...: neuronctl on the demo machine, the test libvirt driver, a scratch root.
safe_run() {
	mkdir -p "$tmp/root" "$tmp/run"
	run "$NEURONCTL" --sysroot "$SYSROOTS/demo" --connect test:///default --root "$tmp/root" \
		--param runtime_dir="$tmp/run" "$@"
}
usage_exit() {
	local what=$1
	shift
	safe_run "$@" </dev/null
	if [ "$rc" = 2 ] && grep -q "^usage: neuronctl $1" "$tmp/err"; then
		ok
	else
		bad "$what: exit $rc (want 2 and the usage on stderr): $(head -n 1 "$tmp/err")"
	fi
}
# The usage line without its options and their values ("--gpu ADDR", "[--json]").
strip_options() {
	local w out= depth=0 skip=0
	for w in $1; do
		if ((skip)); then skip=0; continue; fi
		if ((depth)) || [[ $w == "[-"* ]]; then
			[[ $w == "[-"* && $w != *"]"* ]] && depth=1
			[[ $w == *"]"* ]] && depth=0
			continue
		fi
		if [[ $w == --?* ]]; then
			[[ $w != *=* ]] && skip=1
			continue
		fi
		[[ $w == "[OPTIONS]" || $w == "--" ]] && continue
		out+=" $w"
	done
	echo "$out"
}
# The operands of a usage line after NWORDS command words, optional ones too ("[VM]").
operands_of() {
	local w i=0
	for w in $(strip_options "$1"); do
		((i++ < $2 + 2)) && continue      # "usage:", "neuronctl", the command words
		printf '%s ' "$w"
	done
}
# Those that are not optional ("VM", "ADDR", "WIDTHxHEIGHT").
required_operands() {
	local w
	for w in $(operands_of "$1" "$2"); do
		[[ $w == "["* || $w == *"]"* ]] && continue
		[[ $w =~ ^[A-Z][A-Za-z0-9_.-]*$ ]] && printf '%s ' "$w"
	done
}

# The subcommands of WORDS..., from its help ("  size ..." or "  gpu bind ADDR ...").
subcommands_of() {
	local last
	for last; do :; done
	"$NEURONCTL" "$@" --help 2>/dev/null | section_words "Subcommands:" "$last"
}

# walk WORDS...: check WORDS and every subcommand under it, to any depth (lg setup plan).
walk() {
	local s
	help_ok "$@"
	for s in $(subcommands_of "$@"); do
		walk "$@" "$s"
	done
}
walked=$tmp/walked
: >"$walked"
for c in $commands; do
	walk "$c"
done
# Every node of the tree was reached through the --help pages, and nothing else was.
check "the --help pages reach every command of the tree, and only those" \
	test "$(sort "$walked")" = "$(sort <<<"$tree")"

# ---- the man pages ---------------------------------------------------------------------------
pages="$top/docs/neuronctl.1"
[ -x "$BUILD/neuron-tui" ] && pages="$pages $top/docs/neuron-tui.1"
[ -x "$BUILD/neuron-agent" ] && pages="$pages $top/docs/neuron-agent.8"
for page in $pages; do
	name=$(basename "$page")
	if [ ! -f "$page" ]; then
		bad "$name is missing"
		continue
	fi
	man --warnings -l "$page" >/dev/null 2>"$tmp/warn"
	check "man --warnings -l $name renders without a warning" test ! -s "$tmp/warn"
	[ -s "$tmp/warn" ] && head -5 "$tmp/warn"
	groff -ww -man -z "$page" 2>"$tmp/warn"
	check "groff -ww -man $name: no warning" test ! -s "$tmp/warn"
	[ -s "$tmp/warn" ] && head -5 "$tmp/warn"
	render "$page" >"$tmp/$name.txt"
	for sh in NAME SYNOPSIS DESCRIPTION OPTIONS FILES ENVIRONMENT "EXIT STATUS" "SEE ALSO"; do
		grep -qx "$sh" "$tmp/$name.txt" || bad "$name has no $sh section"
	done
	# Every option of the program's --help is documented.
	prog=$(basename "$page" | sed 's/\.[0-9]$//')
	for o in $("$BUILD/$prog" --help 2>/dev/null | grep -oE '^[[:space:]]+(-[a-zA-Z], )?--[a-z0-9][-a-z0-9.]*' | grep -oE -- '--[a-z0-9][-a-z0-9.]*'); do
		grep -qE -- "$o([^-a-z0-9.]|$)" "$tmp/$name.txt" || bad "$name does not document $prog $o"
	done
	v=$(sed -n 's/^\.TH [^ ]* [0-9] "[^"]*" "neuron \([0-9.]*\)".*/\1/p' "$page")
	check "$name's version ($v) is the program's ($version)" test "$v" = "$version"
done

man1=$tmp/neuronctl.1.txt
# The text of one command's section: from "   CMD" to the next command or section.
man_section() {
	awk -v c="   $1" '$0 == c { in_s = 1; next } in_s && (/^   [a-z][-a-z0-9]*$/ || /^[A-Z]/) { exit } in_s { print }' "$man1"
}
# man_subs WORDS...: every subcommand under WORDS, to any depth, has an entry in the section
# of WORDS' command ("       lg setup plan ...") and each of its options is there.
man_subs() {
	local s o
	for s in $(subcommands_of "$@"); do
		if grep -qE "^ +$* $s( |$)" "$tmp/sec"; then ok; else bad "neuronctl.1: '$1' does not document the subcommand '$* $s'"; fi
		for o in $("$NEURONCTL" "$@" "$s" --help 2>/dev/null | section_options "Options:"); do
			grep -qE -- "$o([^-a-z0-9.]|$)" "$tmp/sec" || bad "neuronctl.1: '$* $s' does not document $o"
		done
		man_subs "$@" "$s"
	done
}
documented=$(awk '/^COMMANDS$/ { in_s = 1; next } in_s && /^[A-Z]/ { exit } in_s && /^   [a-z][-a-z0-9]*$/ { print $1 }' "$man1")
for c in $commands; do
	if ! grep -qx "$c" <<<"$documented"; then
		bad "neuronctl.1 has no section for the command '$c' (add .SS $c under COMMANDS)"
		continue
	fi
	ok
	man_section "$c" >"$tmp/sec"
	for o in $("$NEURONCTL" "$c" --help 2>/dev/null | section_options "Options:"); do
		grep -qE -- "$o([^-a-z0-9.]|$)" "$tmp/sec" || bad "neuronctl.1: '$c' does not document $o"
	done
	man_subs "$c"
done
for c in $documented; do
	grep -qx "$c" <<<"$commands" || bad "neuronctl.1 documents '$c', which neuronctl does not have"
done
for o in $(section_options "Global options:" <<<"$top_help"); do
	grep -qE -- "$o([^-a-z0-9.]|$)" "$man1" || bad "neuronctl.1 does not document the global option $o"
done
# Every named parameter (core/include/neuron/ctx.h) is in PARAMETERS.
params=$(awk '/^PARAMETERS$/ { in_s = 1; next } in_s && /^[A-Z]/ { exit } in_s && /^       [a-z]/ { print $1 }' "$man1")
for p in $(awk '/^#define NR_PARAMS\(/ { in_t = 1; next } in_t { print } in_t && !/\\$/ { exit }' \
		"$top/core/include/neuron/ctx.h" | sed -n 's/^[[:space:]]*X("\([^"]*\)".*/\1/p'); do
	if grep -qxF -- "$p" <<<"$params"; then ok; else bad "neuronctl.1 PARAMETERS does not document '$p'"; fi
done
# The exit statuses the programs use are the documented ones.
for st in 0 1 2; do
	awk '/^EXIT STATUS$/ { in_s = 1; next } in_s && /^[A-Z]/ { exit } in_s { print }' "$man1" |
		grep -qE "^ +$st( |$)" || bad "neuronctl.1 EXIT STATUS does not document $st"
done

# Every environment variable a program reads (getenv in its sources) is in its page's
# ENVIRONMENT: core/ and cli/ in neuronctl.1, tui/ in neuron-tui.1, agent/ in neuron-agent.8.
env_check() { # page.txt sources...
	local page=$1 v
	shift
	[ -f "$page" ] || return 0
	awk '/^ENVIRONMENT$/ { in_s = 1; next } in_s && /^[A-Z]/ { exit } in_s { print }' "$page" >"$tmp/env"
	for v in $(cat "$@" 2>/dev/null | grep -oE 'getenv\("[A-Z_][A-Z0-9_]*"\)' | sed 's/getenv("\(.*\)")/\1/' | sort -u); do
		if grep -qE "(^|[ ,])$v(,|$| )" "$tmp/env"; then ok; else bad "$(basename "$page" .txt) ENVIRONMENT does not document $v"; fi
	done
}
env_check "$tmp/neuronctl.1.txt" "$top"/core/*/*.c "$top"/cli/*.c
env_check "$tmp/neuron-tui.1.txt" "$top"/tui/*.c
env_check "$tmp/neuron-agent.8.txt" "$top"/agent/*.c

# Every key of neuron-tui's key table (tui/keys.c) is in neuron-tui.1's KEYS.
if [ -f "$top/tui/keys.c" ] && [ -f "$tmp/neuron-tui.1.txt" ]; then
	awk '/^KEYS$/ { in_s = 1; next } in_s && /^[A-Z]/ { exit } in_s { print }' "$tmp/neuron-tui.1.txt" >"$tmp/keys"
	keys=$(sed -n 's/^[[:space:]]*{[^,]*,[[:space:]]*"\([^"]*\)",[[:space:]]*TUI_ACT_.*/\1/p' "$top/tui/keys.c" | sort -u)
	check "tui/keys.c has keys" test -n "$keys"
	for k in $keys; do
		# a tag line of the section: "       F1, ?", "       s"
		if awk -v k="$k" '/^       [^ ]/ { n = split($0, w, /[ ,]+/); for (i = 1; i <= n; i++) if (w[i] == k) f = 1 } END { exit !f }' "$tmp/keys"; then
			ok
		else
			bad "neuron-tui.1 KEYS does not document the key '$k' (tui/keys.c)"
		fi
	done
fi

# A document the help or the docs cite is one the repository has (scan --help and
# docs/profiles.md cited a DESIGN.md that is not here).
for c in $commands; do "$NEURONCTL" "$c" --help 2>/dev/null; done >"$tmp/all-help"
# (man pages spell a hyphen \-: "windows\-agent.md")
for f in $(cat "$tmp/all-help" "$top/README.md" "$top"/docs/*.md "$top"/docs/*.[18] | sed 's/\\-/-/g' |
	grep -o '[A-Za-z_][A-Za-z_-]*\.md' | sort -u); do
	if [ -n "$(find "$top" -path "$top/build*" -prune -o -path "$top/.deps" -prune -o -name "$f" -print | head -n 1)" ]; then
		ok
	else
		bad "the help or the docs cite $f, which the repository does not have"
	fi
done

# The JSON neuronctl(1) describes is the JSON scan --json prints: every field it prints is
# named in the page's scan section (it said "address" where the JSON says "addr").
render "$top/docs/neuronctl.1" | awk '/^   scan$/ { in_s = 1; next } in_s && /^   [a-z]/ { exit } in_s { print }' \
	>"$tmp/scan.man"
fields=$("$NEURONCTL" --sysroot "$SYSROOTS/demo" scan --json |
	python3 -c 'import json, sys
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            print(k)
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(json.load(sys.stdin))' | sort -u)
check "scan --json prints fields" test -n "$fields"
for f in $fields; do
	if grep -qw -- "$f" "$tmp/scan.man"; then ok; else bad "neuronctl.1 scan --json does not name the field '$f'"; fi
done

# ---- bash completion -------------------------------------------------------------------------
bash "$here/completion.sh" "$top/completion/neuronctl.bash" "$NEURONCTL" >"$tmp/comp" 2>&1
crc=$?
cat "$tmp/comp"
cp=$(sed -n 's/^completion: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$tmp/comp")
cf=$(sed -n 's/^completion: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$tmp/comp")
pass=$((pass + ${cp:-0})) fail=$((fail + ${cf:-1}))
[ "$crc" = 0 ] || [ "${cf:-1}" != 0 ] || fail=$((fail + 1))

summary docs
