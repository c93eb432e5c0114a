# SPDX-License-Identifier: MIT
# bash completion for ds-link
_ds_link()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-Q|--queue|--limit|--overhead)
		return ;;
	--rate)
		COMPREPLY=($(compgen -W '1mbit 2mbit 10mbit 50mbit 100mbit 1gbit' -- "$cur"))
		return ;;
	--delay|--jitter)
		COMPREPLY=($(compgen -W '1ms 5ms 10ms 20ms 50ms 100ms' -- "$cur"))
		return ;;
	--params|--pidfile)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac
	COMPREPLY=($(compgen -W '-Q -v -q -h -V --queue --rate --delay --jitter --limit
		--overhead --params --pidfile --verbose --quiet --help --version' -- "$cur"))
}
complete -F _ds_link ds-link
