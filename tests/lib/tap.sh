# TAP output for the shell tests (tests/*/*.t); source it, then:
#   plan N; ok COND "name"; is GOT WANT "name"; like GOT REGEX "name"
# Each prints one result line; diagnostics go to stdout as "# " lines.
# `bail "why"` ends the test file early: the runner counts the missing
# results as failures.

tap_count=0

plan() { echo "1..$1"; }

ok() {      # ok <status of a test command, 0 = pass> name
    local status=$1; shift
    tap_count=$((tap_count + 1))
    if [ "$status" = 0 ]; then
        echo "ok $tap_count - $*"
    else
        echo "not ok $tap_count - $*"
    fi
    return "$status"
}

is() {      # is got want name
    local got=$1 want=$2; shift 2
    if [ "$got" = "$want" ]; then
        ok 0 "$@"
    else
        ok 1 "$@"
        echo "#   got:  '$got'"
        echo "#   want: '$want'"
        return 1
    fi
}

like() {    # like got extended-regex name
    local got=$1 re=$2; shift 2
    if printf '%s' "$got" | grep -Eq -- "$re"; then
        ok 0 "$@"
    else
        ok 1 "$@"
        echo "#   got:  '$got'"
        echo "#   want match: /$re/"
        return 1
    fi
}

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

bail() { echo "Bail out! $*"; exit 1; }
