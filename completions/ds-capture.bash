# SPDX-License-Identifier: MIT
# bash completion for ds-capture
_ds_capture() {
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-i|--interface) COMPREPLY=($(compgen -W "any $(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
	-w|--write|-r|--read) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--user) COMPREPLY=($(compgen -u -- "$cur")); return ;;
	-p|--port|--peer|-c|--count|--duration|-s|--snaplen|--comment) return ;;
	esac
	COMPREPLY=($(compgen -W "-i --interface -p --port --peer -4 -6 -w --write -r --read -c --count
		--duration -s --snaplen --user --comment --no-packets --csv --no-header -q --quiet
		-v --verbose -h --help -V --version" -- "$cur"))
}
complete -F _ds_capture ds-capture
