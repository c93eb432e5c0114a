# SPDX-License-Identifier: MIT
# bash completion for ds-trace6
_ds_trace6() {
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--state) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--mmdb|--resolv-conf) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-p|--port|--dport|-f|--first-hop|-m|--max-hops|--probes|-w|--wait|--inflight|--interval|--size) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "-4 -6 -p --port --dport --state -f --first-hop -m --max-hops
			--probes -w --wait --inflight --interval --size -n --no-dns --resolv-conf --mmdb
			--csv --no-header -q --quiet -v --verbose -h --help -V --version" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -A hostname -- "$cur"))
}
complete -F _ds_trace6 ds-trace6
