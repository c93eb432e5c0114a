# SPDX-License-Identifier: MIT
# fish completion for ds-lab
function __ds_lab_nodes
	ds-lab list 2>/dev/null | cut -f1
end
set -l cmds up down list exec ns addr nat-flush set show
complete -c ds-lab -f
complete -c ds-lab -l prefix -x -d 'name prefix of this lab'
complete -c ds-lab -l run-dir -r -a '(__fish_complete_directories)' -d 'run state directory'
complete -c ds-lab -s v -l verbose -d 'print every command that changes the lab'
complete -c ds-lab -s h -l help -d 'help'
complete -c ds-lab -s V -l version -d 'version'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a up -d 'build the lab from a topology file'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a down -d 'remove everything the lab made'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a list -d 'one line per node'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a exec -d 'run a command in a node'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a ns -d 'print a node\'s namespace'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a addr -d 'print a node\'s address'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a nat-flush -d 'flush a NAT\'s mappings'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a set -d 'change a link direction'
complete -c ds-lab -n "not __fish_seen_subcommand_from $cmds" -a show -d 'print a link direction'
complete -c ds-lab -n "__fish_seen_subcommand_from up" -F -a '(__fish_complete_suffix .topo)'
complete -c ds-lab -n "__fish_seen_subcommand_from exec ns addr nat-flush set show" -a '(__ds_lab_nodes)'
complete -c ds-lab -n "__fish_seen_subcommand_from addr" -a 'v4 v6'
complete -c ds-lab -n "__fish_seen_subcommand_from set" -a 'rate= delay= jitter= loss= limit= overhead= shaper= burst='
