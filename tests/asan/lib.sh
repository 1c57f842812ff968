# Runs other tests against the sanitized build for tests/asan/*.t
# (docs/testing.md, "Sanitizers").  Source it, call asan_run for each
# test, then asan_done.
#
#   asan_run NAME CMD...   run CMD (a test printing TAP) with VGPU_BUILD at
#                          the sanitized build; print its results renumbered
#                          as "NAME: ...", then two of our own: it exited 0
#                          with all the results it planned, and no process
#                          it started left a sanitizer report
#   asan_done              print the plan (at the end: TAP allows it)
#
# Every process of the test inherits ASAN_OPTIONS and UBSAN_OPTIONS that
# send reports to files (daemons' stderr goes to logs the tests delete):
# one file per process that reported, in a directory anyone may write to
# (vgpu-client-test runs clients as nobody).  UBSan in a shared object
# (libvgpu.so, a backend plugin) still writes to stderr: the test's output
# is searched too, and so is every file the test leaves in its own TMPDIR,
# kept with KEEP_TMP (a daemon's log).  A report fails the test, and the
# files are kept under build/test-logs/asan/NAME/.
#
# VGPU_ASAN_BUILD names the sanitized build (default build-asan);
# VGPU_ASAN_OPTIONS adds to ASAN_OPTIONS, e.g. fast_unwind_on_malloc=0 for
# leak reports whose stacks go on through GLib (slower).

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VGPU_BUILD=${VGPU_ASAN_BUILD:-$top/build-asan}
[[ "$VGPU_BUILD" == /* ]] || VGPU_BUILD=$top/$VGPU_BUILD
export VGPU_BUILD
asan_limit=${VGPU_ASAN_TEST_TIMEOUT:-600}      # seconds for one test
asan_keep=$top/build/test-logs/asan
asan_reports=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-asan.XXXXXX")
chmod 0755 "$asan_reports"
asan_n=0
trap 'rm -rf "$asan_reports"' EXIT

asan_result() {     # status description
    asan_n=$((asan_n + 1))
    if [ "$1" = 0 ]; then echo "ok $asan_n - $2"; else echo "not ok $asan_n - $2"; fi
}

asan_run() {
    local name=$1; shift
    local dir=$asan_reports/$name out status planned got=0 line desc reports start stray
    local scratch=$asan_reports/$name.tmp
    mkdir -p "$dir" "$scratch" && chmod 1777 "$dir" "$scratch"
    if ! command -v "$1" >/dev/null; then
        echo "# $name: $1 is not built (make asan-build)"
    fi
    start=$(date +%s)
    out=$(ASAN_OPTIONS="log_path=$dir/asan:detect_leaks=1:abort_on_error=0:print_summary=1${VGPU_ASAN_OPTIONS:+:$VGPU_ASAN_OPTIONS}${ASAN_EXTRA:+:$ASAN_EXTRA}" \
          UBSAN_OPTIONS="log_path=$dir/ubsan:print_stacktrace=1:halt_on_error=1" \
          LSAN_OPTIONS="${LSAN_SUPPRESSIONS:+suppressions=$LSAN_SUPPRESSIONS:}print_suppressions=0" \
          G_SLICE=always-malloc G_DEBUG=gc-friendly TMPDIR=$scratch KEEP_TMP=1 \
          timeout --kill-after=10 "$asan_limit" "$@" 2>&1 </dev/null)
    status=$?
    echo "# $name: $(( $(date +%s) - start )) s"
    planned=$(printf '%s\n' "$out" | sed -nE 's/^1\.\.([0-9]+).*/\1/p' | tail -n 1)
    while IFS= read -r line; do
        if [[ "$line" =~ ^(not )?ok\ [0-9]+(.*)$ ]]; then
            got=$((got + 1))
            asan_n=$((asan_n + 1))
            desc=${BASH_REMATCH[2]}
            desc=${desc# }
            desc=${desc#- }
            echo "${BASH_REMATCH[1]}ok $asan_n - $name: $desc"
        elif [[ "$line" =~ ^1\.\.[0-9]+ ]]; then
            continue
        elif [ -n "$line" ]; then
            echo "# ${line#\# }"
        fi
    done <<<"$out"

    if [ "$status" = 0 ] && [ -n "$planned" ] && [ "$got" = "$planned" ]; then
        asan_result 0 "$name: exit status 0, all $planned results"
    else
        asan_result 1 "$name: exit status $status, ${planned:-no} plan, $got results"
    fi

    reports=$(find "$dir" -type f | sort)
    stray=$(find "$scratch" -type f -size -64M -exec \
            grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' {} + 2>/dev/null | sort)
    if [ -z "$reports$stray" ] &&
       ! printf '%s\n' "$out" | grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:'; then
        rm -rf "$scratch"
        asan_result 0 "$name: no sanitizer report from any of its processes"
        return
    fi
    asan_result 1 "$name: sanitizer reports (ASan, LSan or UBSan)"
    mkdir -p "$asan_keep/$name"
    for f in $reports $stray; do
        cp "$f" "$asan_keep/$name/"
        echo "# $(basename "$f"):"
        grep -E 'ERROR:|runtime error:|SUMMARY:|^ +#[0-9] ' "$f" | head -n 12 | sed 's/^/#   /'
    done
    rm -rf "$scratch"
    echo "# reports kept in ${asan_keep#$top/}/$name/"
}

asan_done() { echo "1..$asan_n"; }
