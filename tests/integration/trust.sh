#!/bin/bash
# trust.sh: trust over time: expiry, no rollback (per store, per key and channel), key
# rotation and revocation; with real stores (oci: checked with jq, a private Docker engine).
. "$(dirname "$0")/../lib.sh"
plan 58
skip_unless jq tar python3 dockerd minisign

cd "$T"
make_samples || fail_rest "make-samples.sh failed"
"$AIRPACK" keygen -W -p k.pub -s k.key >/dev/null 2>&1 || fail_rest "keygen failed"
W1=1796000000          # week 1: 2026-11-30
W2=$((W1 + 7 * 86400))  # week 2
SOURCE_DATE_EPOCH=$W1 "$AIRPACK" pack -q -s k.key -o week1.tar "$S/docker24/app-a.tar" || fail_rest "pack week 1 failed"
SOURCE_DATE_EPOCH=$W2 "$AIRPACK" pack -q -s k.key -o week2.tar "$S/docker24/app-b.tar" || fail_rest "pack week 2 failed"
snapshot() { (cd "$1" && find . -type f ! -name '.*.lock' -print0 | sort -z | xargs -0 -r sha256sum); }
seq_of() { jq -r --arg c "${2:-default}" '.streams[] | select(.channel == $c) | .sequence' "$1"; }

# 1. expiry: verifies at once, refused once past, loads with --allow-expired
"$AIRPACK" pack -q -s k.key --expires 2s -o exp.tar "$S/docker24/app-a.tar" || fail_rest "pack --expires 2s failed"
exp=$(index_json exp.tar | jq -r .trust.expires)
if "$AIRPACK" verify -q -p k.pub exp.tar >out 2>err; then pass "--expires 2s: verifies at once"
else fail "--expires 2s: verifies at once" "$(head -c 300 err)"; fi
"$AIRPACK" ls exp.tar | grep -q "expires $exp" && pass "ls shows the expiry" || fail "ls shows the expiry" "$("$AIRPACK" ls exp.tar | head -3)"
sleep 3
expect_fail "expired bundle: verify exit 1 naming the expiry and how long ago" 1 "expired at $exp, [0-9]+ s ago" \
    "$AIRPACK" verify -q -p k.pub exp.tar
if "$AIRPACK" verify -q --json --allow-expired -p k.pub exp.tar 2>/dev/null |
    jq -e --arg e "$exp" '.verdict == "verified" and .expires == $e and .channel == "default" and (.warning | test("expired at"))' >/dev/null
then pass "verify --json reports channel, sequence, expiry and the warning"
else fail "verify --json reports channel, sequence, expiry and the warning" "$("$AIRPACK" verify -q --json --allow-expired -p k.pub exp.tar 2>&1 | head -c 300)"; fi
expect_fail "expired bundle: load exit 1, nothing loaded" 1 "expired at $exp" \
    "$AIRPACK" load -q -p k.pub --into "oci:$T/exp" exp.tar
[ ! -e "$T/exp/index.json" ] && pass "expired bundle: the store has no index.json" || fail "expired bundle: the store has no index.json"
if "$AIRPACK" load -q -p k.pub --allow-expired --into "oci:$T/exp" exp.tar >out 2>err && grep -q "warning: .*expired" err &&
    [ "$(jq '.manifests | length' "$T/exp/index.json")" = 1 ]; then pass "--allow-expired loads it, with a warning"
else fail "--allow-expired loads it, with a warning" "$(head -c 300 err)"; fi

# 2. no rollback into oci:
O="$T/o"
"$AIRPACK" load -q -p k.pub --into "oci:$O" week2.tar >/dev/null 2>err || fail_rest "load week 2 into oci: $(head -c 300 err)"
[ "$(seq_of "$O/airpack-state.json")" = "$W2" ] && pass "oci: the store records week 2's sequence" ||
    fail "oci: the store records week 2's sequence" "$(cat "$O/airpack-state.json" 2>&1 | head -c 300)"
cp "$O/index.json" idx.before; snap=$(snapshot "$O")
expect_fail "oci: week 1 after week 2 is refused (exit 1, both sequences and dates, when loaded)" 1 \
    "rollback refused: .*sequence $W1 \(created 2026-11-30T.*already loaded sequence $W2 \(created 2026-12-07T.*\) at 20" \
    "$AIRPACK" load -q -p k.pub --into "oci:$O" week1.tar
cmp -s idx.before "$O/index.json" && [ "$snap" = "$(snapshot "$O")" ] && pass "oci: refused rollback leaves index.json and every file as they were" ||
    fail "oci: refused rollback leaves index.json and every file as they were"
expect_fail "verify --into oci:DIR runs the same check without loading" 1 "rollback refused" \
    "$AIRPACK" verify -q -p k.pub --into "oci:$O" week1.tar
if "$AIRPACK" load -q -p k.pub --into "oci:$O" week2.tar >/dev/null 2>err; then pass "oci: the same sequence loads again"
else fail "oci: the same sequence loads again" "$(head -c 300 err)"; fi
if "$AIRPACK" load -q -p k.pub --allow-rollback --into "oci:$O" week1.tar >/dev/null 2>err && grep -q "rollback allowed" err &&
    jq -r '.manifests[].annotations["io.containerd.image.name"]' "$O/index.json" | grep -q app-a &&
    [ "$(seq_of "$O/airpack-state.json")" = "$W2" ]; then pass "oci: --allow-rollback loads week 1; the record keeps week 2"
else fail "oci: --allow-rollback loads week 1; the record keeps week 2" "$(head -c 300 err)"; fi

# 3. a second channel is independent
SOURCE_DATE_EPOCH=$W1 "$AIRPACK" pack -q -s k.key --channel apps --sequence 5 -o apps5.tar "$S/docker24/app-a.tar"
SOURCE_DATE_EPOCH=$W2 "$AIRPACK" pack -q -s k.key --channel apps --sequence 3 -o apps3.tar "$S/docker24/app-b.tar"
"$AIRPACK" ls apps5.tar | grep -q "channel apps, sequence 5," && pass "ls shows channel and sequence" || fail "ls shows channel and sequence"
if "$AIRPACK" load -q -p k.pub --into "oci:$O" apps5.tar >/dev/null 2>err && [ "$(seq_of "$O/airpack-state.json" apps)" = 5 ] &&
    [ "$(seq_of "$O/airpack-state.json")" = "$W2" ]; then pass "channel apps: sequence 5 loads beside default's week 2"
else fail "channel apps: sequence 5 loads beside default's week 2" "$(head -c 300 err)"; fi
expect_fail "channel apps: sequence 3 after 5 is refused" 1 "sequence 3 .* of channel apps.*already loaded sequence 5" \
    "$AIRPACK" load -q -p k.pub --into "oci:$O" apps3.tar

# 3b. deltas carry the sequence they build on; load says when the store is elsewhere
D="$T/d"
"$AIRPACK" load -q -p k.pub --into "oci:$D" week1.tar >/dev/null 2>&1 || fail_rest "load week 1 into oci:$D"
"$AIRPACK" inventory --from "oci:$D" -o have.json >/dev/null 2>err
jq -e --arg s "$W1" '.loaded == [{"key": .loaded[0].key, "channel": "default", "sequence": ($s | tonumber)}]' have.json >/dev/null &&
    pass "inventory lists what the store last loaded" || fail "inventory lists what the store last loaded" "$(jq -c .loaded have.json 2>&1) $(head -c 200 err)"
SOURCE_DATE_EPOCH=$((W2 + 86400)) "$AIRPACK" pack -q -s k.key --have have.json -o delta-have.tar "$S/docker24/app-a.tar" "$S/docker24/app-b.tar"
SOURCE_DATE_EPOCH=$((W2 + 86400)) "$AIRPACK" pack -q -s k.key --since week2.tar -o delta-since.tar "$S/docker24/app-b.tar"
[ "$(index_json delta-have.tar | jq .trust.base_sequence)" = "$W1" ] && [ "$(index_json delta-since.tar | jq .trust.base_sequence)" = "$W2" ] &&
    pass "deltas (--have, --since) record the sequence they build on" ||
    fail "deltas (--have, --since) record the sequence they build on" "$(index_json delta-have.tar | jq -c .trust) $(index_json delta-since.tar | jq -c .trust)"
"$AIRPACK" load -q -p k.pub --into "oci:$D" week2.tar >/dev/null 2>&1
if "$AIRPACK" load -q -p k.pub --into "oci:$D" delta-since.tar >/dev/null 2>err && ! grep -q "builds on" err; then
    pass "a delta at the store's sequence loads without that note"
else fail "a delta at the store's sequence loads without that note" "$(head -c 300 err)"; fi
if "$AIRPACK" load -q -p k.pub --into "oci:$D" delta-have.tar >/dev/null 2>err &&
    grep -q "builds on sequence $W1 of channel default, but the last oci:$D loaded is sequence $((W2 + 86400))" err; then
    pass "load says when the store is not at the delta's base sequence"
else fail "load says when the store is not at the delta's base sequence" "$(head -c 300 err)"; fi

# 4. no rollback into a Docker engine (state in --state-dir)
if start_dockerd; then
    SOCK="$T/docker/docker.sock"
    tags() { "$DOCKER" images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort; }
    if "$AIRPACK" load -q -p k.pub --state-dir "$T/sd" --into "docker-daemon:$SOCK" week2.tar >/dev/null 2>err &&
        tags | grep -q app-b; then pass "docker: week 2 loads"
    else fail "docker: week 2 loads" "$(head -c 300 err)"; fi
    before=$(tags)
    ls "$T"/sd/docker-daemon-*.json >/dev/null 2>&1 && pass "docker: the sequence is recorded in --state-dir" ||
        fail "docker: the sequence is recorded in --state-dir" "$(ls -la "$T/sd" 2>&1)"
    expect_fail "docker: week 1 after week 2 is refused" 1 "rollback refused: .*sequence $W1.*docker-daemon:$SOCK already loaded sequence $W2" \
        "$AIRPACK" load -q -p k.pub --state-dir "$T/sd" --into "docker-daemon:$SOCK" week1.tar
    [ "$before" = "$(tags)" ] && ! tags | grep -q app-a && pass "docker: refused rollback leaves the engine's images and tags as they were" ||
        fail "docker: refused rollback leaves the engine's images and tags as they were" "$(tags | tr '\n' ' ')"
    expect_fail "verify --state-dir checks without loading" 1 "rollback refused" \
        "$AIRPACK" verify -q -p k.pub --state-dir "$T/sd" week1.tar
    if "$AIRPACK" load -q -p k.pub --state-dir "$T/sd" --allow-rollback --into "docker-daemon:$SOCK" week1.tar >/dev/null 2>err &&
        tags | grep -q app-a; then pass "docker: --allow-rollback loads week 1"
    else fail "docker: --allow-rollback loads week 1" "$(head -c 300 err)"; fi
    # two loads racing on one engine (the record in --state-dir, under its lock) keep the higher
    SOURCE_DATE_EPOCH=$W1 "$AIRPACK" pack -q -s k.key --channel race --sequence 10 -o race10.tar "$S/docker24/app-a.tar"
    SOURCE_DATE_EPOCH=$W1 "$AIRPACK" pack -q -s k.key --channel race --sequence 20 -o race20.tar "$S/docker24/app-b.tar"
    ok=1; why=""
    for i in 1 2 3; do
        "$AIRPACK" load -q -p k.pub --state-dir "$T/sdr$i" --into "docker-daemon:$SOCK" race10.tar >r1.out 2>r1.err & p1=$!
        "$AIRPACK" load -q -p k.pub --state-dir "$T/sdr$i" --into "docker-daemon:$SOCK" race20.tar >r2.out 2>r2.err & p2=$!
        wait $p1; rc1=$?; wait $p2; rc2=$?
        s=$(seq_of "$(ls "$T/sdr$i"/docker-daemon-*.json)" race)
        [ "$s" = 20 ] && [ $rc2 = 0 ] || { ok=0; why="$why run $i: recorded $s, sequence 20 exit $rc2: $(head -c 200 r2.err);"; }
        [ $rc1 = 0 ] || grep -q "rollback refused" r1.err || { ok=0; why="$why run $i: sequence 10 exit $rc1: $(head -c 200 r1.err);"; }
    done
    [ $ok = 1 ] && pass "docker: two loads racing keep the higher sequence (3 runs)" || fail "docker: two loads racing keep the higher sequence" "$why"
    stop_dockerd
else fail_cases 7 docker "dockerd did not start"; fi

# 5. hostile state files: refused with a clear message, never reset
cp "$O/airpack-state.json" state.good
printf '{"airpack_state":1,"streams":[{"key":"nothex' >"$O/airpack-state.json"
cp "$O/airpack-state.json" state.bad; cp "$O/index.json" idx.before
expect_fail "corrupt state file: refused, named" 2 "corrupt state.*$O/airpack-state.json" \
    "$AIRPACK" load -q -p k.pub --into "oci:$O" week2.tar
cmp -s state.bad "$O/airpack-state.json" && cmp -s idx.before "$O/index.json" && pass "corrupt state file: left as it was, store unchanged" ||
    fail "corrupt state file: left as it was, store unchanged"
echo '{"airpack_state":1,"streams":[]}' >"$T/elsewhere.json"
rm "$O/airpack-state.json"; ln -s "$T/elsewhere.json" "$O/airpack-state.json"
expect_fail "state file replaced by a symlink: refused" 2 "$O/airpack-state.json is a symbolic link" \
    "$AIRPACK" load -q -p k.pub --into "oci:$O" week1.tar
[ -L "$O/airpack-state.json" ] && cmp -s idx.before "$O/index.json" && pass "symlinked state: link kept, store unchanged" ||
    fail "symlinked state: link kept, store unchanged"
rm "$O/airpack-state.json"; cp state.good "$O/airpack-state.json"

# 6. two loads racing on one store keep the higher sequence
ok=1; why=""
for i in 1 2 3 4; do
    R="$T/race$i"
    "$AIRPACK" load -q -p k.pub --into "oci:$R" week1.tar >r1.out 2>r1.err & p1=$!
    "$AIRPACK" load -q -p k.pub --into "oci:$R" week2.tar >r2.out 2>r2.err & p2=$!
    wait $p1; rc1=$?; wait $p2; rc2=$?
    s=$(seq_of "$R/airpack-state.json")
    [ "$s" = "$W2" ] && [ $rc2 = 0 ] || { ok=0; why="$why run $i: recorded $s, week 2 exit $rc2: $(head -c 200 r2.err);"; }
    [ $rc1 = 0 ] || grep -q "rollback refused" r1.err || { ok=0; why="$why run $i: week 1 exit $rc1: $(head -c 200 r1.err);"; }
done
[ $ok = 1 ] && pass "two loads racing on one store keep the higher sequence (4 runs)" || fail "two loads racing on one store keep the higher sequence" "$why"

# 7. key rotation: keygen --rotate-from writes a succession statement signed by the old key
export AIRPACK_CONFIG_DIR="$T/far"   # the far side's trusted-keys directory: $T/far/trusted.d
mkdir -p "$T/far/trusted.d" && cp k.pub "$T/far/trusted.d/site.pub"
OLD_ID=$("$AIRPACK" trust list | awk '/site.pub/ {print $1}')
if "$AIRPACK" keygen -W -p new.pub -s new.key --rotate-from k.key >out 2>err && [ -s new.pub.succession ] &&
    [ -s new.pub.succession.minisig ]; then pass "keygen --rotate-from writes a new key pair and a succession statement"
else fail "keygen --rotate-from writes a new key pair and a succession statement" "$(head -c 300 err)"; fi
check "minisign -V checks the succession statement with the old key" minisign -Vqm new.pub.succession -p k.pub
if minisign -Vqm new.pub.succession -p new.pub >/dev/null 2>&1; then fail "minisign refuses the statement with the new key"
else pass "minisign refuses the statement with the new key"; fi
NEW_ID=$(jq -r .successor new.pub.succession | base64 -d | od -An -j2 -N8 -tx1 | tr -d ' \n' |
    sed 's/\(..\)/\1 /g' | awk '{for (i = NF; i > 0; i--) printf "%s", toupper($i)}')
SOURCE_DATE_EPOCH=$((W2 + 7 * 86400)) "$AIRPACK" pack -q -s new.key -o week3.tar "$S/docker24/app-b.tar"
expect_fail "new-key bundle refused before the new key is trusted" 1 "signed by key ID $NEW_ID, which is not trusted" \
    "$AIRPACK" verify -q week3.tar
cp new.pub lone.pub
expect_fail "trust add without a statement is refused" 1 "no succession statement" "$AIRPACK" trust add lone.pub
"$AIRPACK" keygen -W -p other.pub -s other.key >/dev/null 2>&1
"$AIRPACK" keygen -W -p forged.pub -s forged.key --rotate-from other.key >/dev/null 2>&1
expect_fail "trust add with a statement from an untrusted key is refused" 1 "which is not trusted" \
    "$AIRPACK" trust add forged.pub
cp new.pub.succession tampered.succession; cp new.pub.succession.minisig tampered.succession.minisig
sed -i 's/"created":"20/"created":"19/' tampered.succession
expect_fail "trust add with a tampered statement is refused" 1 "does not match|signature" \
    "$AIRPACK" trust add --statement tampered.succession new.pub
expect_fail "a statement for another key is refused" 1 "names key $NEW_ID as the successor" \
    "$AIRPACK" trust add --statement new.pub.succession other.pub
[ "$(ls "$T/far/trusted.d")" = site.pub ] && pass "refused statements leave the trusted-keys directory as it was" ||
    fail "refused statements leave the trusted-keys directory as it was" "$(ls "$T/far/trusted.d" | tr '\n' ' ')"
if "$AIRPACK" trust add new.pub >out 2>err && "$AIRPACK" verify -q week3.tar >/dev/null 2>err2; then
    pass "after trust add with the statement, the new-key bundle verifies"
else fail "after trust add with the statement, the new-key bundle verifies" "$(head -c 300 err) $(head -c 300 err2)"; fi
"$AIRPACK" trust list | grep -q "$NEW_ID .*succeeds $OLD_ID" && pass "trust list shows the succession" ||
    fail "trust list shows the succession" "$("$AIRPACK" trust list)"
if "$AIRPACK" load -q --state-dir "$T/sd3" --into "oci:$T/o3" week3.tar >/dev/null 2>err; then pass "the new-key bundle loads"
else fail "the new-key bundle loads" "$(head -c 300 err)"; fi
cp "$T/o3/index.json" idx3.before
expect_fail "an old-key bundle below its successor's loaded sequence is a rollback" 1 \
    "sequence $W2 .*key ID $OLD_ID, but oci:$T/o3 already loaded from key ID $NEW_ID, which succeeds it, sequence $((W2 + 7 * 86400))" \
    "$AIRPACK" load -q --into "oci:$T/o3" week2.tar
cmp -s idx3.before "$T/o3/index.json" && pass "that refusal leaves the store unchanged" || fail "that refusal leaves the store unchanged"

# 8. revocation: the old key's bundles are refused, naming the key and when
check "old-key bundle still verifies before the revocation" "$AIRPACK" verify -q week2.tar
"$AIRPACK" trust revoke "$OLD_ID" --reason "laptop stolen" >revoke.out 2>err || fail_rest "trust revoke: $(head -c 300 err)"
grep -q "note: key ID $NEW_ID .* is trusted as the successor of $OLD_ID" revoke.out &&
    pass "trust revoke names the keys trusted as the revoked key's successors" ||
    fail "trust revoke names the keys trusted as the revoked key's successors" "$(head -c 300 revoke.out)"
expect_fail "after trust revoke, an old-key bundle is refused naming the key and the revocation time" 1 \
    "key ID $OLD_ID, which was revoked at 20[0-9-]+T[0-9:]+Z \(laptop stolen\)" "$AIRPACK" verify -q week2.tar
cp "$O/index.json" idx.before
expect_fail "revoked key: refused even with -p, and load writes nothing" 1 "which was revoked" \
    "$AIRPACK" load -q -p k.pub --into "oci:$O" week2.tar
cmp -s idx.before "$O/index.json" && pass "revoked key: the store is unchanged" || fail "revoked key: the store is unchanged"
check "the successor's bundles still verify" "$AIRPACK" verify -q week3.tar

# 9. revocation statements carried in: signed by the successor, or by the key itself
"$AIRPACK" trust revoke "$OLD_ID" --sign new.key -o revoke-old.stmt --reason "rotated" >/dev/null 2>err ||
    fail_rest "trust revoke --sign: $(head -c 300 err)"
check "minisign -V checks a revocation statement" minisign -Vqm revoke-old.stmt -p new.pub
export AIRPACK_CONFIG_DIR="$T/far2"; mkdir -p "$T/far2/trusted.d"; cp k.pub "$T/far2/trusted.d/site.pub"
"$AIRPACK" trust add new.pub >/dev/null 2>&1
check "second far side: old-key bundles verify before the import" "$AIRPACK" verify -q week2.tar
if "$AIRPACK" trust import revoke-old.stmt >out 2>err; then pass "a revocation signed by the successor is imported"
else fail "a revocation signed by the successor is imported" "$(head -c 300 err)"; fi
expect_fail "after the import, old-key bundles are refused" 1 "$OLD_ID, which was revoked at .*\(rotated\)" \
    "$AIRPACK" verify -q week2.tar
"$AIRPACK" trust revoke "$NEW_ID" --sign other.key -o bogus.stmt >/dev/null 2>&1
cp other.pub "$T/far2/trusted.d/other.pub"
expect_fail "a revocation signed by an unrelated trusted key is refused" 1 "neither that key nor its accepted successor" \
    "$AIRPACK" trust import bogus.stmt
"$AIRPACK" trust revoke "$NEW_ID" --sign new.key -o self.stmt >/dev/null 2>&1
if "$AIRPACK" trust import self.stmt >/dev/null 2>err && ! "$AIRPACK" verify -q week3.tar 2>/dev/null; then
    pass "a revocation signed by the key itself is imported"
else fail "a revocation signed by the key itself is imported" "$(head -c 300 err)"; fi
