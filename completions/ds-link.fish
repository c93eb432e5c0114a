# SPDX-License-Identifier: MIT
# fish completion for ds-link
complete -c ds-link -f
complete -c ds-link -s Q -l queue -x -d 'netfilter queue number to serve'
complete -c ds-link -l rate -x -a '1mbit 2mbit 10mbit 50mbit 100mbit 1gbit' -d 'serialization rate'
complete -c ds-link -l delay -x -d 'one-way delay (20ms, 500us, bare ms)'
complete -c ds-link -l jitter -x -d 'uniform delay variation, never reordering'
complete -c ds-link -l limit -x -d 'queue length in packets before tail drop'
complete -c ds-link -l overhead -x -d 'bytes added to each packet for serialization'
complete -c ds-link -l params -r -F -d 'key value file, re-read on SIGHUP'
complete -c ds-link -l pidfile -r -F -d 'write the pid once the queue is bound'
complete -c ds-link -s v -l verbose -d 'parameters, counters and timing'
complete -c ds-link -s q -l quiet -d 'no warnings'
complete -c ds-link -s h -l help -d 'help'
complete -c ds-link -s V -l version -d 'version'
