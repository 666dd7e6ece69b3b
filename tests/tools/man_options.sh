#!/bin/bash
# man_options.sh AIRPACK MANPAGE: compares, for every command 'AIRPACK --help' lists, the
# options 'AIRPACK COMMAND --help' prints with the options the man page documents under
# its '.SS "airpack COMMAND"' heading. Prints one line per difference and exits 1 when
# there is any; exits 0 silently when they match.
#   --help: every option named in the usage block (the lines from "usage:" to the first
#     blank line) and every option line (up to 8 blanks, then -x or --long); reads whatever
#     the help prints, so it follows changes to the help text.
#   man page: the first line after each .TP (the tag), fonts and escapes removed.
# An option is its name only: "-o", "--output", "--tls-verify" (from --tls-verify=false).
set -u
prog=$1 page=$2
rc=0

help_opts() { # COMMAND
    "$prog" "$1" --help 2>&1 | awk '
        NR == 1 || (inusage && NF) { inusage = 1; print; next }
        { inusage = 0 }
        /^ +-/ { match($0, /^ +/); if (RLENGTH <= 8) print }' |
        grep -oE '(^|[][ ,|])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[][ ,|]//' | sort -u
}
man_opts() { # COMMAND
    awk -v want="airpack $1" '
        /^\.SS/ { s = $0; sub(/^\.SS +/, "", s); gsub(/"/, "", s); gsub(/\\-/, "-", s); cur = s; next }
        /^\.SH/ { cur = ""; next }
        cur == want && /^\.TP/ { tag = 1; next }
        tag { tag = 0; gsub(/\\f[BIRP]/, ""); gsub(/\\-/, "-"); gsub(/\\&/, ""); gsub(/"/, " "); print }' "$page" |
        grep -oE '(^|[ ,|])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[ ,|]//' | sort -u
}

cmds=$("$prog" --help 2>&1 | awk '/^commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 } c && !NF { c = 0 }')
[ -n "$cmds" ] || { echo "'$prog --help' lists no commands"; exit 1; }
man_cmds=$(sed -n 's/^\.SS "airpack \([a-z][a-z]*\)"$/\1/p' "$page" | sort)
for c in $cmds; do
    printf '%s\n' "$man_cmds" | grep -qx "$c" || { echo "$c: no '.SS \"airpack $c\"' section in $page"; rc=1; continue; }
    h=$(help_opts "$c") m=$(man_opts "$c")
    [ -n "$h" ] || { echo "$c: '$prog $c --help' names no option"; rc=1; }
    for o in $(comm -23 <(printf '%s\n' "$h") <(printf '%s\n' "$m")); do
        echo "$c: $o is in --help but not in the man page (add a .TP entry under .SS \"airpack $c\" in doc/airpack.1)"; rc=1
    done
    for o in $(comm -13 <(printf '%s\n' "$h") <(printf '%s\n' "$m")); do
        echo "$c: $o is in the man page but not in --help"; rc=1
    done
done
for c in $man_cmds; do
    printf '%s\n' "$cmds" | grep -qx "$c" || { echo "$c: in the man page but not in '$prog --help'"; rc=1; }
done
exit $rc
