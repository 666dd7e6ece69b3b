#!/bin/bash
# minisign_interop.sh: airpack keys and signatures against the real minisign program.
#  - keys made by `minisign -G` load in airpack; minisign's signatures (prehashed and
#    legacy) verify with ap_verify; airpack's signatures verify with `minisign -V`
#    (these run build/tests/test_minisign in its interop mode, on files made here);
#  - keys made by `airpack keygen` sign with `minisign -S` and verify with `minisign -V`,
#    encrypted ones too (minisign 0.11 reads the password from stdin when it is not a
#    terminal, so it is piped in);
#  - keygen's own behaviour: file modes, refusing to overwrite, password sources;
#  - pack with an encrypted key: AIRPACK_PASSWORD without a terminal, --password-file, a
#    wrong password and no password source refused.
. "$(dirname "$0")/../lib.sh"
plan 30
skip_unless minisign
UNIT=${UNIT:-$TOP/${BUILD:-build}/tests/test_minisign}
TC="timestamp:1700000000	file:msg	interop"

cd "$T" || exit 2
head -c 100000 /dev/urandom >msg

# ---- keys and signatures made by minisign, read by airpack's library ----
I="$T/interop"; mkdir -p "$I"; cp msg "$I/msg"
minisign -G -W -p "$I/ms.pub" -s "$I/ms.key" >/dev/null 2>&1
printf 'ms-pass\nms-pass\n' | minisign -G -p "$I/ms_enc.pub" -s "$I/ms_enc.key" >/dev/null 2>&1
minisign -S -s "$I/ms.key" -m "$I/msg" -t "$TC" >/dev/null 2>&1
minisign -S -l -s "$I/ms.key" -m "$I/msg" -x "$I/msg.legacy.minisig" -t "$TC" >/dev/null 2>&1
if ! grep -q '^RUQ\|^RUR\|^RUS\|^RUT' "$I/msg.minisig" || ! grep -q '^RWQ\|^RWR\|^RWS\|^RWT' "$I/msg.legacy.minisig"; then
    fail "minisign made prehashed and legacy signatures" "unexpected signature files"
fi
if [ ! -x "$UNIT" ]; then
    fail_cases 7 "library interop cases" "$UNIT not built (make build/tests/test_minisign)"
else
    # its 5 interop tests, each once; a binary that stops part-way or exits non-zero fails
    AP_INTEROP_DIR="$I" AP_INTEROP_TC="$TC" AP_INTEROP_PASSWORD=ms-pass "$UNIT" >"$T/unit.log" 2>&1
    sh "$TOP/tests/tools/cmocka_sum.sh" "$T/unit.log" $? test_minisign-interop | tee "$T/unit.sum"
    grep -q '^FAIL' "$T/unit.sum" && { echo "--- unit log:"; cat "$T/unit.log"; }
    # ap_sign wrote msg.airpack.minisig with minisign's secret key: minisign verifies it.
    if minisign -V -p "$I/ms.pub" -m "$I/msg" -x "$I/msg.airpack.minisig" >"$T/v.out" 2>&1 &&
        grep -qF "Trusted comment: $TC" "$T/v.out"; then
        pass "minisign -V verifies ap_sign's signature"
    else
        fail "minisign -V verifies ap_sign's signature" "$(cat "$T/v.out")"
    fi
    # ... and rejects it when the trusted comment is altered.
    sed '3s/interop/INTEROP/' "$I/msg.airpack.minisig" >"$I/msg.tampered.minisig"
    if minisign -V -p "$I/ms.pub" -m "$I/msg" -x "$I/msg.tampered.minisig" >"$T/v.out" 2>&1; then
        fail "minisign -V rejects an altered trusted comment" "it verified"
    else
        pass "minisign -V rejects an altered trusted comment"
    fi
fi

# ---- airpack keygen -W: minisign signs with the secret key, verifies with the public ----
export AIRPACK_CONFIG_DIR="$T/conf"
unset AIRPACK_PASSWORD AIRPACK_SECRET_KEY
if "$AIRPACK" keygen -W >"$T/kg.out" 2>"$T/kg.err"; then
    id=$(sed -n 's/^key ID \([0-9A-F]\{16\}\)$/\1/p' "$T/kg.out")
    if [ -n "$id" ] && [ -f airpack.pub ] && [ -f conf/airpack.key ] &&
        grep -q "untrusted comment: minisign public key $id" airpack.pub &&
        grep -q 'minisign -Vm' "$T/kg.out" && grep -qF "$T/conf/airpack.key" "$T/kg.out"; then
        pass "keygen -W writes ./airpack.pub and \$AIRPACK_CONFIG_DIR/airpack.key and prints the key ID"
    else
        fail "keygen -W writes ./airpack.pub and \$AIRPACK_CONFIG_DIR/airpack.key and prints the key ID" "$(cat "$T/kg.out" "$T/kg.err")"
    fi
else
    fail "keygen -W writes ./airpack.pub and \$AIRPACK_CONFIG_DIR/airpack.key and prints the key ID" "exit $?: $(cat "$T/kg.err")"
fi
[ "$(stat -c %a conf/airpack.key 2>/dev/null)" = 600 ] && [ "$(stat -c %a conf 2>/dev/null)" = 700 ] &&
    pass "secret key is mode 0600 in a 0700 directory" ||
    fail "secret key is mode 0600 in a 0700 directory" "$(stat -c '%a %n' conf conf/airpack.key 2>&1)"
ls conf | grep -q tmp && fail "no temporary files left" "$(ls conf)" || pass "no temporary files left"
if minisign -S -s conf/airpack.key -m msg -x msg.ak.minisig -t "$TC" >"$T/s.out" 2>&1 &&
    minisign -V -p airpack.pub -m msg -x msg.ak.minisig >"$T/v.out" 2>&1; then
    pass "minisign signs with airpack's secret key and verifies with airpack.pub"
else
    fail "minisign signs with airpack's secret key and verifies with airpack.pub" "$(cat "$T/s.out" "$T/v.out")"
fi
# minisign names the key id in the signature; it must be the one keygen printed.
if minisign -V -P "$(sed -n 2p "$I/ms.pub")" -m msg -x msg.ak.minisig >"$T/v.out" 2>&1; then
    fail "minisign rejects airpack's signature under another key" "it verified"
elif [ -n "$id" ] && grep -q "${id#"${id%%[!0]*}"}" "$T/v.out"; then   # minisign prints the ID without leading zeros
    pass "minisign rejects airpack's signature under another key, naming key ID $id"
else
    fail "minisign rejects airpack's signature under another key, naming key ID $id" "$(cat "$T/v.out")"
fi
minisign -R -s conf/airpack.key -p recreated.pub >/dev/null 2>&1
if [ "$(sed -n 2p recreated.pub)" = "$(sed -n 2p airpack.pub)" ]; then
    pass "minisign -R recreates airpack.pub from airpack's secret key"
else
    fail "minisign -R recreates airpack.pub from airpack's secret key" "$(cat recreated.pub 2>&1)"
fi

# ---- refusing to overwrite, -f, -p/-s/-c ----
before=$(sed -n 2p airpack.pub)
expect_fail "keygen refuses to overwrite an existing key without -f" 2 "already exists; use -f" "$AIRPACK" keygen -W
[ "$(sed -n 2p airpack.pub)" = "$before" ] && pass "the refused keygen left the old key alone" ||
    fail "the refused keygen left the old key alone" "airpack.pub changed"
if "$AIRPACK" keygen -W -f >/dev/null 2>"$T/kg.err" && [ "$(sed -n 2p airpack.pub)" != "$before" ]; then
    pass "keygen -f overwrites the key pair"
else
    fail "keygen -f overwrites the key pair" "$(cat "$T/kg.err")"
fi
if "$AIRPACK" keygen -W -p other.pub -s "$T/keys/other.key" -c "release key 2026" >/dev/null 2>"$T/kg.err" &&
    [ "$(sed -n 1p other.pub)" = "untrusted comment: release key 2026" ] && [ -f "$T/keys/other.key" ]; then
    pass "keygen -p -s -c put the keys where asked, with the comment"
else
    fail "keygen -p -s -c put the keys where asked, with the comment" "$(cat "$T/kg.err")"
fi
expect_fail "keygen rejects a stray argument" 2 "unexpected argument" "$AIRPACK" keygen -W -p x.pub -s x.key extra

# ---- encrypted keys ----
# No password source and no terminal (setsid drops the controlling terminal).
expect_fail "keygen without a password source says how to give one" 2 \
    "no password: set AIRPACK_PASSWORD, use --password-file, or run on a terminal" \
    setsid -w "$AIRPACK" keygen -p nopw.pub -s nopw.key </dev/null
[ ! -e nopw.key ] && pass "no key is written without a password" || fail "no key is written without a password" "nopw.key exists"

# One encrypted key, made with AIRPACK_PASSWORD (each scrypt run at minisign's
# SENSITIVE limits costs about 1 GiB and several seconds, so there is only one).
if AIRPACK_PASSWORD=env-pass "$AIRPACK" keygen -p enc.pub -s enc.key >/dev/null 2>"$T/kg.err" &&
    sed -n 2p enc.key | base64 -d 2>/dev/null | head -c 4 | grep -q EdSc; then
    pass "keygen with AIRPACK_PASSWORD writes an encrypted (scrypt) key"
    # The scrypt parameters are minisign's own defaults (SENSITIVE: ops 2^25, mem 1 GiB).
    params=$(sed -n 2p enc.key | base64 -d | od -An -tx1 -j38 -N16 | tr -d ' \n')
    [ "$params" = "00000002000000000000004000000000" ] && pass "encrypted key uses minisign's scrypt limits" ||
        fail "encrypted key uses minisign's scrypt limits" "opslimit/memlimit bytes $params"
    # minisign 0.11 reads the password from stdin when stdin is not a terminal.
    if echo env-pass | minisign -S -s enc.key -m msg -x msg.enc.minisig >"$T/s.out" 2>&1 &&
        minisign -V -p enc.pub -m msg -x msg.enc.minisig >/dev/null 2>&1; then
        pass "minisign signs with airpack's encrypted key given the password on stdin"
    else
        fail "minisign signs with airpack's encrypted key given the password on stdin" "$(cat "$T/s.out")"
    fi
    if echo wrong-pass | minisign -S -s enc.key -m msg -x msg.bad.minisig >"$T/s.out" 2>&1; then
        fail "minisign refuses airpack's encrypted key with a wrong password" "it signed"
    elif grep -q "Wrong password" "$T/s.out"; then
        pass "minisign refuses airpack's encrypted key with a wrong password"
    else
        fail "minisign refuses airpack's encrypted key with a wrong password" "$(cat "$T/s.out")"
    fi
    # pack signs with the encrypted key: the password from AIRPACK_PASSWORD in a run without a
    # terminal (setsid, stdin /dev/null), or from --password-file; a wrong one or none is
    # refused and writes no bundle
    tiny_image tiny.tar sample/tiny:1.0 >/dev/null
    if AIRPACK_PASSWORD=env-pass setsid -w "$AIRPACK" pack -q -s enc.key -o enc-env.tar tiny.tar </dev/null >"$T/p.out" 2>&1 &&
        "$AIRPACK" verify -q -p enc.pub enc-env.tar >>"$T/p.out" 2>&1; then
        pass "pack with an encrypted key, AIRPACK_PASSWORD, no terminal: the bundle verifies with its public key"
    else fail "pack with an encrypted key, AIRPACK_PASSWORD, no terminal: the bundle verifies with its public key" "$(head -c 300 "$T/p.out")"; fi
    printf 'env-pass\n' >pwfile
    if "$AIRPACK" pack -q -s enc.key --password-file pwfile -o enc-file.tar tiny.tar </dev/null >"$T/p.out" 2>&1 &&
        "$AIRPACK" verify -q -p enc.pub enc-file.tar >>"$T/p.out" 2>&1; then
        pass "pack with an encrypted key and --password-file: the bundle verifies"
    else fail "pack with an encrypted key and --password-file: the bundle verifies" "$(head -c 300 "$T/p.out")"; fi
    expect_fail "pack with an encrypted key and a wrong password is refused" 2 "wrong password for secret key enc.key" \
        env AIRPACK_PASSWORD=wrong-pass "$AIRPACK" pack -q -s enc.key -o enc-wrong.tar tiny.tar
    expect_fail "pack with an encrypted key, no password source and no terminal says how to give one" 2 \
        "no password: set AIRPACK_PASSWORD, use --password-file, or run on a terminal" \
        setsid -w "$AIRPACK" pack -q -s enc.key -o enc-none.tar tiny.tar </dev/null
    # (after the two refusals: no bundle and no temporary file)
    if [ -z "$(ls -A . | grep -E '^enc-(wrong|none)\.tar|^\.enc-(wrong|none)')" ]; then :
    else fail "the refused packs wrote nothing" "$(ls -A . | grep enc- | tr '\n' ' ')"; fi
else
    fail_cases 8 "keygen with AIRPACK_PASSWORD writes an encrypted (scrypt) key" "$(cat "$T/kg.err")"
fi
: >emptypw
expect_fail "keygen refuses an empty password" 2 "password is empty" "$AIRPACK" keygen --password-file emptypw -p e.pub -s e.key
expect_fail "keygen --password-file names a missing file" 2 "reading password file missing-pw" \
    "$AIRPACK" keygen --password-file missing-pw -p m.pub -s m.key
