# SPDX-License-Identifier: MIT
# bash completion for ds-pairprobe
_ds_pairprobe() {
	local cur prev state i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--state) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	-c|--count|-i|--interval|-d|--duration|-s|--size|--pairs|--pair-size|--train|--dscp|-w|--wait) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--state -c --count -i --interval -d --duration -s --size
			--pairs --pair-size --train --dscp -w --wait --clock-synced --raw --csv
			--no-header -q --quiet -v --verbose -h --help -V --version" -- "$cur"))
		return
	fi
	# peer names: from the agent's peers file is not known here; offer those the
	# state directory has an EWMA for
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == --state ]] && state=${COMP_WORDS[i+1]}
	done
	if [[ -n $state && -d $state/pairprobe ]]; then
		COMPREPLY=($(compgen -W "$(cd "$state/pairprobe" && ls *.ewma 2>/dev/null | sed 's/\.ewma$//')" -- "$cur"))
	fi
}
complete -F _ds_pairprobe ds-pairprobe
