# SPDX-License-Identifier: MIT
# bash completion for ds-key
_ds_key()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-k|--key)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '-k -v -q -h -V --key --verbose --quiet --help --version' -- "$cur"))
	else
		COMPREPLY=($(compgen -W 'genkey pubkey' -- "$cur"))
	fi
}
complete -F _ds_key ds-key
