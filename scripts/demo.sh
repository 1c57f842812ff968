#!/bin/sh
# make demo: will start the mediator, boot three VMs (pools A and B; high,
# medium, low priority), run requests in each and print results, latencies
# and the mediator's stats.  The parts it needs are not built yet.
echo "make demo: not available yet."
echo "It will boot three VMs that share the host's GPUs through vgpu-mediatord"
echo "and show each VM's results, latency and the mediator's per-VM stats."
exit 1
