# SPDX-License-Identifier: MIT
# bash completion for ds-stun
_ds_stun()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-p|--port|--count|--interval|--rto|--rc|--rm|--wait|--dns)
		return ;;
	--state)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '-4 -6 -p -q -v -h -V --ipv4 --ipv6 --port --state --nat
			--count --interval --rto --rc --rm --wait --srv --no-srv --dns --csv
			--no-header --quiet --verbose --help --version' -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -A hostname -- "$cur"))
}
complete -F _ds_stun ds-stun
