# SPDX-License-Identifier: MIT
# bash completion for ds-report
_ds_report()
{
	local cur prev opts
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	opts="-m --metric --csv --no-header --svg --openmetrics --summary --color --title --top
		--latency-marginal --latency-outside --throughput-marginal --throughput-outside
		--loss-marginal --loss-outside --baseline-percentile --max-age --asymmetry
		-q --quiet -v --verbose -h --help -V --version"
	case $prev in
	-m | --metric)
		COMPREPLY=($(compgen -W "latency throughput loss all" -- "$cur"))
		return ;;
	--color)
		COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
		return ;;
	--svg)
		COMPREPLY=($(compgen -f -X '!*.svg' -- "$cur") $(compgen -d -- "$cur"))
		return ;;
	--title | --top | --latency-marginal | --latency-outside | --throughput-marginal | \
	--throughput-outside | --loss-marginal | --loss-outside | --baseline-percentile | \
	--max-age | --asymmetry)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -X '!*.csv' -- "$cur") $(compgen -d -- "$cur"))
	fi
}
complete -o filenames -F _ds_report ds-report
