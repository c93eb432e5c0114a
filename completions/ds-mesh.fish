# SPDX-License-Identifier: MIT
complete -c ds-mesh -s n -l name -x -d "This agent's name"
complete -c ds-mesh -l state -r -a '(__fish_complete_directories)' -d 'Agent state directory'
complete -c ds-mesh -l peers -r -d 'Peers file'
complete -c ds-mesh -l results -r -a '(__fish_complete_directories)' -d 'Results directory'
complete -c ds-mesh -l rendezvous -r -a '(__fish_complete_directories)' -d 'Rendezvous directory'
complete -c ds-mesh -l spread -x -d 'Spread peers over a duration'
complete -c ds-mesh -l only -x -d 'Measure only this peer'
complete -c ds-mesh -l lock-wait -x -d 'Wait for a busy heavy-test lock'
complete -c ds-mesh -l probe-args -x -d 'Extra ds-pairprobe arguments'
complete -c ds-mesh -s q -l quiet -d 'No messages'
complete -c ds-mesh -s v -l verbose -d 'More messages'
complete -c ds-mesh -s h -l help -d 'Help'
complete -c ds-mesh -s V -l version -d 'Version'
