# SPDX-License-Identifier: MIT
# bash completion for ds-punch
_ds_punch() {
	local cur prev state i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--state) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--attempts|--deltas|--interval|--start-in|-w|--timeout) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--state --attempts --deltas --interval --start-in -w
			--timeout --no-relay -4 --ipv4 --csv --no-header -q --quiet -v --verbose
			-h --help -V --version" -- "$cur"))
		return
	fi
	# peer names: those the agent has kept a path to (STATE/paths.csv)
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == --state ]] && state=${COMP_WORDS[i+1]}
	done
	if [[ -n $state && -r $state/paths.csv ]]; then
		COMPREPLY=($(compgen -W "$(awk -F, 'NR > 1 { print $1 }' "$state/paths.csv" | sort -u)" -- "$cur"))
	fi
}
complete -F _ds_punch ds-punch
