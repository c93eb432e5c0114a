# SPDX-License-Identifier: MIT
# bash completion for ds-mesh
_ds_mesh() {
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	--state|--results|--rendezvous) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--peers) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-n|--name|--spread|--only|--lock-wait|--probe-args) return ;;
	esac
	COMPREPLY=($(compgen -W "-n --name --state --peers --results --rendezvous --spread --only
		--lock-wait --probe-args --no-race -q --quiet -v --verbose -h --help -V --version" -- "$cur"))
}
complete -F _ds_mesh ds-mesh
