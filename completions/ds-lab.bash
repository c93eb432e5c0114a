# SPDX-License-Identifier: MIT
# bash completion for ds-lab
_ds_lab_nodes()
{
	ds-lab ${1:+--prefix "$1"} list 2>/dev/null | cut -f1
}
_ds_lab()
{
	local cur prev i cmd="" prefix="" nargs=0
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--prefix) return ;;
	--run-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	esac
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--prefix) prefix=${COMP_WORDS[i+1]}; ((i++)) ;;
		--run-dir) ((i++)) ;;
		--) [ "$cmd" = exec ] && return ;;
		-*) ;;
		*) if [ -z "$cmd" ]; then cmd=${COMP_WORDS[i]}; else ((nargs++)); fi ;;
		esac
	done
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W 'up down list exec ns addr nat-flush set show
			-v -h -V --prefix --run-dir --verbose --help --version' -- "$cur"))
		return
	fi
	case $cmd in
	up) [ $nargs -eq 0 ] && COMPREPLY=($(compgen -f -X '!*.topo' -- "$cur") $(compgen -d -- "$cur")) ;;
	exec|ns|nat-flush) [ $nargs -eq 0 ] && COMPREPLY=($(compgen -W "$(_ds_lab_nodes "$prefix")" -- "$cur")) ;;
	addr)
		if [ $nargs -eq 0 ]; then COMPREPLY=($(compgen -W "$(_ds_lab_nodes "$prefix")" -- "$cur"))
		elif [ $nargs -eq 1 ]; then COMPREPLY=($(compgen -W 'v4 v6' -- "$cur")); fi ;;
	set|show)
		if [ $nargs -lt 2 ]; then COMPREPLY=($(compgen -W "$(_ds_lab_nodes "$prefix")" -- "$cur"))
		elif [ "$cmd" = set ]; then
			compopt -o nospace 2>/dev/null
			COMPREPLY=($(compgen -W 'rate= delay= jitter= loss= limit= overhead= shaper= burst=' -- "$cur"))
		fi ;;
	esac
}
complete -F _ds_lab ds-lab
