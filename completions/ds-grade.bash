# SPDX-License-Identifier: MIT
# bash completion for ds-grade
_ds_grade()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--rtt-ms)
		COMPREPLY=($(compgen -W '50,100,200' -- "$cur"))
		return ;;
	--retrans-pct)
		COMPREPLY=($(compgen -W '0.5,1,3' -- "$cur"))
		return ;;
	--min-age|--min-sessions)
		return ;;
	--watch|--sample)
		COMPREPLY=($(compgen -W '5s 10s 30s 1m 5m' -- "$cur"))
		return ;;
	--since)
		COMPREPLY=($(compgen -W '1h 6h 24h 0' -- "$cur"))
		return ;;
	--color)
		COMPREPLY=($(compgen -W 'auto always never' -- "$cur"))
		return ;;
	--config|--history|--state-file|--svg)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac
	if [[ " ${COMP_WORDS[*]} " == *" --fleet "* && $cur != -* ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -W '-4 -6 -q -v -h -V --apps --device --timeline --fleet --all
		--lan --rtt-ms --retrans-pct --min-age --min-sessions --config --snapshot --watch
		--sample --history --state-file --since --svg --color --csv --no-header --quiet
		--verbose --help --version' -- "$cur"))
}
complete -F _ds_grade ds-grade
