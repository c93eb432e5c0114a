# SPDX-License-Identifier: MIT
# fish completion for ds-key
complete -c ds-key -f
complete -c ds-key -n '__fish_use_subcommand' -a genkey -d 'print a new private key'
complete -c ds-key -n '__fish_use_subcommand' -a pubkey -d 'print the public key of a private key'
complete -c ds-key -s k -l key -r -F -d 'genkey: create this file (0600); pubkey: read the key from it'
complete -c ds-key -s v -l verbose -d 'say what was done'
complete -c ds-key -s q -l quiet -d 'no warnings'
complete -c ds-key -s h -l help -d 'help'
complete -c ds-key -s V -l version -d 'version'
