#!/bin/sh
# Runs the CUDA test programs of tests/cuda/ and compares two runs.
#
#   run-programs.sh run [-b BINDIR] OUTDIR [SPEC...]
#   run-programs.sh compare DIR_A DIR_B
#   run-programs.sh list
#
# The same runs natively on a GPU host (NVIDIA's libcudart), on the host
# through the guest's libcudart.so.13, and inside a guest, so it is POSIX
# sh using only what busybox has, and it leaves the choice of library to
# the caller (LD_LIBRARY_PATH).  It never bounds a program's time: the
# caller does (a guest's agent, run-tests).
#
# run: runs each SPEC, "[NAME=]PROGRAM [ARG...]" as one word, from BINDIR
# (default: the directory of this script if it holds the programs, as in
# a guest, else build/tests/cuda of the source tree), with no SPEC the
# set `list` prints.  NAME (default: the spec with spaces as '_') names
# its files in OUTDIR: NAME.cmd (the command), NAME.out, NAME.err and
# NAME.status (the exit status).  Give a spec a NAME where two runs to be
# compared need different arguments: "quota=quota 8589934592" in the VM
# beside "quota=quota 150754820096" natively.  Prints TAP, one line per
# program: ok when it exited as expected (out-of-bounds: 3, the fault came;
# the others: 0, every check held), else its output's last lines as
# diagnostics.  Exits 0 when every program was ok.
#
# compare: for each program DIR_A ran, ok when DIR_B ran it too, with the
# same exit status and the same stdout (each program prints only what
# every correct run prints there), else the difference as diagnostics.
# Prints TAP; exits 0 when every program was ok.
set -u

# The default set: sizes a TCG guest checks in seconds, and pinned memory
# that fits the heap of a 64 MiB data window (docs/cuda.md).
DEFAULT_SPECS='vector-add 65536
matmul-tiled 256
matmul-tiled 1000
streams-reduction 1048576 4
bandwidth 8388608
symbols
empty-launches 10000
quota
out-of-bounds'

usage() {
    echo "usage: $0 run [-b BINDIR] OUTDIR [SPEC...] | compare DIR_A DIR_B | list" >&2
    exit 64
}

expected_status() {     # program
    case $1 in
    out-of-bounds) echo 3 ;;
    *) echo 0 ;;
    esac
}

# The last lines of a file as TAP diagnostics.
diag_tail() {           # file label
    if [ -s "$1" ]; then
        tail -n 5 "$1" | sed "s|^|#   $2: |"
    fi
}

cmd_run() {
    here=$(cd "$(dirname "$0")" && pwd)
    bindir=$here
    [ -x "$bindir/vector-add" ] || bindir=$here/../../build/tests/cuda
    if [ "${1:-}" = -b ]; then
        [ $# -ge 2 ] || usage
        bindir=$2
        shift 2
    fi
    [ $# -ge 1 ] || usage
    outdir=$1
    shift
    mkdir -p "$outdir" || exit 1
    if [ $# -eq 0 ]; then
        old_ifs=$IFS
        IFS='
'
        set -f
        # shellcheck disable=SC2086  # one spec a line
        set -- $DEFAULT_SPECS
        set +f
        IFS=$old_ifs
    fi

    echo "1..$#"
    n=0
    failed=0
    for spec in "$@"; do
        n=$((n + 1))
        case $spec in
        *=*) name=${spec%%=*}; command=${spec#*=} ;;
        *) name=$(printf '%s' "$spec" | tr ' ' '_'); command=$spec ;;
        esac
        program=${command%% *}
        want=$(expected_status "$program")
        printf '%s\n' "$command" >"$outdir/$name.cmd"
        if [ -x "$bindir/$program" ]; then
            args=${command#"$program"}
            set -f          # split on spaces, never globbed
            # shellcheck disable=SC2086
            "$bindir/$program" $args >"$outdir/$name.out" 2>"$outdir/$name.err" </dev/null
            status=$?
            set +f
        else
            echo "run-programs.sh: no program $bindir/$program" >"$outdir/$name.err"
            : >"$outdir/$name.out"
            status=127
        fi
        echo "$status" >"$outdir/$name.status"
        if [ "$status" = "$want" ]; then
            echo "ok $n - $command: exit $status"
        else
            echo "not ok $n - $command: exit $status, expected $want"
            diag_tail "$outdir/$name.out" stdout
            diag_tail "$outdir/$name.err" stderr
            failed=$((failed + 1))
        fi
    done
    [ "$failed" = 0 ]
}

cmd_compare() {
    [ $# -eq 2 ] || usage
    a=$1
    b=$2
    count=0
    for f in "$a"/*.status; do
        [ -e "$f" ] && count=$((count + 1))
    done
    [ "$count" -gt 0 ] || { echo "run-programs.sh: no runs in $a" >&2; exit 1; }

    echo "1..$count"
    n=0
    failed=0
    for f in "$a"/*.status; do
        n=$((n + 1))
        name=$(basename "$f" .status)
        if [ ! -e "$b/$name.status" ]; then
            echo "not ok $n - $name: no run in $b"
            failed=$((failed + 1))
            continue
        fi
        sa=$(cat "$a/$name.status")
        sb=$(cat "$b/$name.status")
        if [ "$sa" != "$sb" ]; then
            echo "not ok $n - $name: exit $sa in $a, $sb in $b"
            diag_tail "$b/$name.err" "$b stderr"
            failed=$((failed + 1))
        elif ! cmp -s "$a/$name.out" "$b/$name.out"; then
            echo "not ok $n - $name: the same exit ($sa), a different stdout"
            diff "$a/$name.out" "$b/$name.out" | sed 's/^/#   /'
            failed=$((failed + 1))
        else
            echo "ok $n - $name: the same exit ($sa) and stdout"
        fi
    done
    [ "$failed" = 0 ]
}

[ $# -ge 1 ] || usage
mode=$1
shift
case $mode in
run) cmd_run "$@" ;;
compare) cmd_compare "$@" ;;
list) printf '%s\n' "$DEFAULT_SPECS" ;;
*) usage ;;
esac
