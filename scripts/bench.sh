#!/bin/sh
# make bench: benchmarks, reported as ratios to floors measured in the same
# run (see docs/benchmarks.md).  No benchmark exists yet.
echo "make bench: no benchmarks yet (see docs/benchmarks.md)."
exit 1
