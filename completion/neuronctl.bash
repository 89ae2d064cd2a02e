# bash completion for neuronctl(1)                                 -*- shell-script -*-
#
# Commands, subcommands, options and operands are read from the program's own --help
# (its command table), so the completion cannot drift from the program: a command added
# to the command tree (cli/cmd_*.c) completes the moment it is built. GPU addresses come from
# `neuronctl scan --json`, VM names from `neuronctl vm list --json`, each run with the
# --sysroot/--root/--connect/--param options already on the command line.
# Needs nothing from the bash-completion package; installed in its completions directory,
# it is loaded the first time neuronctl is completed.

# The help text of `neuronctl WORDS... --help` into the variable _neuronctl_text (empty when
# there is none). Kept for a minute per shell, so that the TABs of one command line run the
# program once per word, not once per TAB.
declare -gA _neuronctl_cache=() _neuronctl_cache_time=()
_neuronctl_help()
{
	local key="$_neuronctl_prog $*"
	if [[ -z ${_neuronctl_cache_time[$key]+set} ]] || ((SECONDS - _neuronctl_cache_time[$key] >= 60)); then
		_neuronctl_cache[$key]=$("$_neuronctl_prog" "$@" --help 2>/dev/null)
		_neuronctl_cache_time[$key]=$SECONDS
	fi
	_neuronctl_text=${_neuronctl_cache[$key]}
}

# The entries of a help section ("Commands:", "Subcommands:"): the first word of each
# indented line up to the next blank line, or the second where the first is the command
# itself ("  gpu bind ADDR   ...").
_neuronctl_section_words()
{
	local section=$1 cmd=${2-} line in=0
	local -a w
	while IFS= read -r line; do
		if [[ $line == "$section" ]]; then
			in=1
		elif ((in)); then
			[[ -z $line || $line != " "* ]] && break
			read -r -a w <<<"$line"
			if [[ ${w[0]} == "$cmd" && ${#w[@]} -gt 1 ]]; then
				printf '%s\n' "${w[1]}"
			else
				printf '%s\n' "${w[0]}"
			fi
		fi
	done
}

# Every option of a help text as "--name" or "--name METAVAR", one a line.
_neuronctl_options()
{
	local line re='^[[:space:]]+(-[a-zA-Z], )?(--[a-z0-9][-a-z0-9.]*)(=| )?([A-Z][-A-Z0-9_=.]*|[a-z0-9]+(\|[a-z0-9]+)+)?'
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		if [[ -n ${BASH_REMATCH[4]} && ${BASH_REMATCH[3]} != "" ]]; then
			printf '%s %s\n' "${BASH_REMATCH[2]}" "${BASH_REMATCH[4]}"
		else
			printf '%s\n' "${BASH_REMATCH[2]}"
		fi
	done
}

# The operand placeholders of a usage line ("usage: neuronctl lg stop VM" -> VM), with
# the program, the command words and the options taken out.
_neuronctl_operands()
{
	local usage=$1 nwords=$2 w depth=0 i=0
	usage=${usage#usage: }
	for w in $usage; do
		((i++ < nwords + 1)) && continue         # program and command words
		[[ $w == "--" ]] && break                # what follows goes to another program
		if ((depth)) || [[ $w == "[-"* || $w == "-"* ]]; then
			[[ $w == "[-"* ]] && depth=1
			[[ $w == *"]" ]] && depth=0
			continue
		fi
		[[ $w == "[OPTIONS]" ]] && continue
		w=${w//[\[\]]/}
		w=${w%...}
		[[ -n $w ]] && printf '%s\n' "$w"
	done
}

_neuronctl_gpus()
{
	local line
	"$_neuronctl_prog" "${_neuronctl_global[@]}" scan --json 2>/dev/null |
		sed -n '/"gpus"/,$p' | while IFS= read -r line; do
			[[ $line =~ \"addr\":[[:space:]]*\"([0-9a-fA-F:.]+)\" ]] && printf '%s\n' "${BASH_REMATCH[1]}"
		done
}

_neuronctl_vms()
{
	local line
	"$_neuronctl_prog" "${_neuronctl_global[@]}" vm list --json 2>/dev/null | while IFS= read -r line; do
		# the top-level objects' names only (json-c's pretty print: 4 spaces in)
		[[ $line =~ ^"    "\"name\":[[:space:]]*\"([^\"]+)\" ]] && printf '%s\n' "${BASH_REMATCH[1]}"
	done
}

# Complete the value of a placeholder (ADDR, VM, DIR, FILE ...); OPTION is the option it
# belongs to, empty for an operand (where NAME is a VM's name).
_neuronctl_value()
{
	local meta=$1 cur=$2 opt=${3-}
	case $opt in
	--user)      COMPREPLY=($(compgen -u -- "$cur")); return ;;
	--group)     COMPREPLY=($(compgen -g -- "$cur")); return ;;
	--initramfs) COMPREPLY=($(compgen -W "mkinitcpio dracut initramfs-tools" -- "$cur")); return ;;
	esac
	[[ -n $opt && $meta == NAME ]] && { COMPREPLY=(); return; }
	case $meta in
	*"|"*)          COMPREPLY=($(compgen -W "${meta//|/ }" -- "$cur")) ;;   # shm|kvmfr
	ADDR|GPU|PCI)   COMPREPLY=($(compgen -W "$(_neuronctl_gpus)" -- "$cur")) ;;
	VM|NAME|DOMAIN) COMPREPLY=($(compgen -W "$(_neuronctl_vms)" -- "$cur")) ;;
	DIR|ROOT|SYSROOT) COMPREPLY=($(compgen -d -- "$cur")) ;;
	URI)            COMPREPLY=($(compgen -W "qemu:///system qemu:///session test:///default" -- "$cur")) ;;
	FILE|PATH|PROFILE|*.yaml|CERT|KEY|SOCKET|PORT|DEVICE)
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	*)              COMPREPLY=() ;;
	esac
	if [[ $meta == DIR* || $meta == *ROOT ]]; then
		compopt -o filenames 2>/dev/null
	elif [[ $meta == FILE || $meta == PATH || $meta == PROFILE || $meta == CERT || $meta == KEY ||
		$meta == SOCKET || $meta == DEVICE ]]; then
		compopt -o filenames 2>/dev/null
	fi
}

_neuronctl()
{
	# The words come from the line itself, split at blanks only: readline would also split
	# at '=' and ':' (COMP_WORDBREAKS), which cuts "--gpu=0000:01:00.0" into five words.
	local line=${COMP_LINE-${COMP_WORDS[*]}}
	line=${line:0:${COMP_POINT-${#line}}}
	local -a words
	read -r -a words <<<"$line"
	[[ -z $line || $line == *[[:blank:]] ]] && words+=("")
	local cword=$((${#words[@]} - 1))
	local cur=${words[cword]} prev= i w
	local -a _neuronctl_global=() path=()
	local _neuronctl_prog=${words[0]} help opts meta nops=0
	COMPREPLY=()
	_neuronctl_prog=${_neuronctl_prog/#\~/$HOME}
	command -v "$_neuronctl_prog" >/dev/null 2>&1 || return 0
	((cword > 0)) && prev=${words[cword - 1]}
	_neuronctl_complete
	# readline replaces only what follows the last word break in the word ("0000:01" after
	# "--gpu=0000:"): drop that much from the front of each answer.
	local head=${cur%[${COMP_WORDBREAKS-=:}]*}
	if [[ $head != "$cur" ]]; then
		head=${cur:0:${#head}+1}
		COMPREPLY=("${COMPREPLY[@]#"$head"}")
	fi
	return 0
}

_neuronctl_complete()
{
	# Walk the words before the cursor: global options, the command, its subcommand,
	# then the command's options and operands.
	local top sub_help opt_list
	local _neuronctl_text
	_neuronctl_help
	top=$_neuronctl_text
	local -a commands=($(_neuronctl_section_words "Commands:" <<<"$top"))
	local global_opts=$(_neuronctl_options <<<"$(sed -n '/^Global options:/,/^$/p' <<<"$top")")
	help=$top opts=$global_opts
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ $w == --*=* ]]; then                   # "=" not in COMP_WORDBREAKS
			((${#path[@]})) || _neuronctl_global+=("$w")
			continue
		fi
		if [[ $w == -* ]]; then
			# An option that takes a value swallows the next word.
			if [[ $'\n'$opts$'\n' == *$'\n'"$w "[A-Za-z0-9]*$'\n'* ]]; then
				((${#path[@]})) || _neuronctl_global+=("$w" "${words[i + 1]}")
				((i++))
			fi
			continue
		fi
		if ((${#path[@]} == 0)); then
			path=("$w")
		elif ((nops == 0)) && _neuronctl_section_words "Subcommands:" "${path[0]}" <<<"$help" | grep -qx -- "$w"; then
			path+=("$w")
		else
			((nops++))
			continue
		fi
		_neuronctl_help "${path[@]}"
		help=$_neuronctl_text
		opts=$(_neuronctl_options <<<"$(sed -n '/^Options:/,/^$/p' <<<"$help")")
	done

	# "--opt=value" as one word ('=' not in COMP_WORDBREAKS): complete the value, keep the prefix.
	if [[ $cur == --?*=* ]]; then
		meta=$(grep -- "^${cur%%=*} " <<<"$opts" | head -n 1)
		if [[ -n $meta ]]; then
			_neuronctl_value "${meta#* }" "${cur#*=}" "${cur%%=*}"
			COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
		fi
		return 0
	fi
	# The value of an option?
	if [[ $prev == -* ]]; then
		meta=$(grep -- "^$prev " <<<"$opts" | head -n 1)
		if [[ -n $meta ]]; then
			_neuronctl_value "${meta#* }" "$cur" "$prev"
			return 0
		fi
	fi
	if [[ $cur == -* ]]; then
		local names=$(sed 's/ .*//' <<<"$opts")
		grep -qx -- --help <<<"$names" || names+=$'\n--help'
		COMPREPLY=($(compgen -W "$names" -- "$cur"))
		return 0
	fi
	if ((${#path[@]} == 0)); then
		COMPREPLY=($(compgen -W "${commands[*]} help" -- "$cur"))
		return 0
	fi
	local subs=$(_neuronctl_section_words "Subcommands:" "${path[0]}" <<<"$help")
	if [[ -n $subs ]] && ((nops == 0)); then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
		return 0
	fi
	# An operand: the placeholder at this position in the usage line.
	local usage=$(grep -m 1 '^usage: ' <<<"$help")
	local -a operands=($(_neuronctl_operands "$usage" "${#path[@]}"))
	((nops < ${#operands[@]})) && _neuronctl_value "${operands[nops]}" "$cur"
	return 0
}
complete -F _neuronctl neuronctl
