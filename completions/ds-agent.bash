# SPDX-License-Identifier: MIT
# bash completion for ds-agent
_ds_agent()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-k|--key|--peers)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--state|--rendezvous)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	--mesh)
		COMPREPLY=($(compgen -W 'on off' -- "$cur"))
		return ;;
	--stun|--turn)
		COMPREPLY=($(compgen -A hostname -- "$cur"))
		return ;;
	-n|--name|-p|--port|--turn-user|--turn-pass|--turn-secret|--turn-lifetime|--rate-limit)
		return ;;
	esac
	COMPREPLY=($(compgen -W '-k -n -p -4 -6 -q -v -h -V --key --name --peers --state --port
		--stun --turn --turn-user --turn-pass --turn-secret --turn-lifetime --rendezvous --mesh --rate-limit
		--status --quiet --verbose --help --version' -- "$cur"))
}
complete -F _ds_agent ds-agent
