# SPDX-License-Identifier: MIT
# fish completion for ds-agent
complete -c ds-agent -f
complete -c ds-agent -s k -l key -r -F -d 'private key file'
complete -c ds-agent -s n -l name -x -d "this agent's name"
complete -c ds-agent -l peers -r -F -d 'peers file (CSV name,pubkey,endpoint)'
complete -c ds-agent -l state -r -a '(__fish_complete_directories)' -d 'state directory'
complete -c ds-agent -s p -l port -x -d 'warm UDP port (0 = any)'
complete -c ds-agent -l stun -x -a '(__fish_print_hostnames)' -d 'STUN server addr[:port]'
complete -c ds-agent -l turn -x -a '(__fish_print_hostnames)' -d 'TURN server'
complete -c ds-agent -l turn-user -x -d 'TURN user name'
complete -c ds-agent -l turn-pass -x -d 'TURN password'
complete -c ds-agent -l turn-secret -x -d 'TURN REST shared secret'
complete -c ds-agent -l turn-lifetime -x -d 'TURN allocation lifetime to ask for (s)'
complete -c ds-agent -l rendezvous -r -a '(__fish_complete_directories)' -d 'candidate exchange directory'
complete -c ds-agent -l mesh -x -a 'on off' -d 'answer probes or refuse them'
complete -c ds-agent -l rate-limit -x -d 'packets per second per source (0 = none)'
complete -c ds-agent -l status -d "print the running agent's status"
complete -c ds-agent -s 4 -d 'IPv4 only'
complete -c ds-agent -s 6 -d 'IPv6 only'
complete -c ds-agent -s q -l quiet -d 'only errors'
complete -c ds-agent -s v -l verbose -d 'more messages'
complete -c ds-agent -s h -l help -d 'help'
complete -c ds-agent -s V -l version -d 'version'
