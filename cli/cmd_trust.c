/* cmd_trust.c: `airpack trust`: the keys bundles are checked with, over time.
 *
 *   airpack trust list
 *   airpack trust add NEW.pub [--statement FILE | --force]
 *   airpack trust rotate STATEMENT
 *   airpack trust revoke KEYID [--reason TEXT]
 *   airpack trust revoke KEYID --sign KEY.key -o STATEMENT [--reason TEXT] [--password-file F]
 *   airpack trust import STATEMENT
 *
 * The work is in verify/trust_store.c; this parses, calls and prints. Exit status:
 * 0 done, 1 a statement or key was refused, 2 could not run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../formats/formats.h"
#include "../verify/verify.h"
#include "commands.h"
#include "keys.h"
#include "options.h"
#include "status.h"

static const char usage_text[] =
    "usage: airpack trust list\n"
    "       airpack trust add NEW.pub [--statement FILE | --force]\n"
    "       airpack trust rotate STATEMENT\n"
    "       airpack trust revoke KEYID [--reason TEXT]\n"
    "       airpack trust revoke KEYID --sign KEY.key -o STATEMENT [--reason TEXT]\n"
    "       airpack trust import STATEMENT\n"
    "\n"
    "The trusted-keys directory ($AIRPACK_TRUSTED_KEYS, else $AIRPACK_CONFIG_DIR/trusted.d,\n"
    "else ~/.airpack/trusted.d) holds the keys verify and load trust, how each came to be\n"
    "trusted, and which keys are revoked.\n"
    "\n"
    "  list     every trusted key (and the key it succeeds), and every revoked key\n"
    "  add      trust NEW.pub: only with a succession statement signed by a key trusted\n"
    "           here (--statement FILE, default NEW.pub.succession, as 'airpack keygen\n"
    "           --rotate-from' writes it), or with --force\n"
    "  rotate   trust the successor a succession statement names (same checks as add)\n"
    "  revoke   record here that KEYID is revoked: its bundles are refused from now on;\n"
    "           with --sign, instead write a revocation statement signed by KEY.key (the\n"
    "           revoked key itself, or its successor) to carry to the far side\n"
    "  import   apply a signed statement carried in: a succession (as rotate), or a\n"
    "           revocation signed by the revoked key or its accepted successor\n"
    "\n"
    "  -o, --output FILE      revoke --sign: where to write the statement (and FILE.minisig)\n"
    "      --password-file F  the password of --sign's key (or set AIRPACK_PASSWORD)\n"
    "\n"
    "Statements are files with a minisign signature beside them (FILE.minisig):\n"
    "'minisign -Vm FILE -p SIGNER.pub' checks one. Exit status: 0 done, 1 refused,\n"
    "2 could not run.\n";

static int do_list(const char *dir, ap_error *err)
{
    ap_trusted_key *keys = NULL;
    ap_revoked_key *rev = NULL;
    size_t n = 0, n_rev = 0;
    if (ap_trust_keys(dir, &keys, &n, err) < 0 || ap_trust_revocations(dir, &rev, &n_rev, err) < 0) {
        free(keys);
        return -1;
    }
    printf("trusted keys in %s:%s\n", dir, n ? "" : " none");
    for (size_t i = 0; i < n; i++) {
        printf("  %s  %s", keys[i].key_id, keys[i].file);
        if (keys[i].predecessor[0])
            printf("  (succeeds %s, statement of %s)", keys[i].predecessor, keys[i].since);
        printf("\n");
    }
    if (n_rev)
        printf("revoked keys:\n");
    for (size_t i = 0; i < n_rev; i++)
        printf("  %s  revoked at %s%s%s%s\n", rev[i].key_id, rev[i].revoked_at, rev[i].reason[0] ? " (" : "",
               rev[i].reason, rev[i].reason[0] ? ")" : "");
    free(keys);
    free(rev);
    return 0;
}

/* After a revocation: the keys trusted because the revoked key named them as its successor.
 * A thief of that key could have named one of theirs: say so, for a person to check. */
static void note_successors(const char *dir, const char *revoked)
{
    ap_trusted_key *keys = NULL;
    size_t n = 0;
    ap_error err;
    if (ap_trust_keys(dir, &keys, &n, &err) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i].predecessor, revoked))
            printf("note: key ID %s (%s) is trusted as the successor of %s, by a statement of %s: if that key "
                   "could have been stolen before then, check that %s is yours, and revoke it if not\n",
                   keys[i].key_id, keys[i].file, revoked, keys[i].since, keys[i].key_id);
    free(keys);
}

static int do_add(const char *dir, const char *pub, const char *statement, bool force, ap_error *err)
{
    ap_pubkey pk;
    char def[4200], id[2 * AP_KEYNUM_LEN + 1];
    bool already;
    if (ap_pubkey_load(pub, &pk, err) < 0)
        return -1;
    if (!statement && !force) {
        snprintf(def, sizeof def, "%s.succession", pub);
        if (access(def, F_OK) != 0)
            return ap_fail(err, AP_ERR_VERIFY, "%s: no succession statement (%s) from a trusted key; give one with "
                           "--statement FILE, or --force to trust the key as it is", pub, def);
        statement = def;
    }
    if (ap_trust_add(dir, &pk, statement, force, id, &already, err) < 0)
        return -1;
    printf("key ID %s %s%s\n", id, already ? "was already trusted" : "is now trusted",
           statement ? "" : " (--force: without a statement)");
    return 0;
}

static int do_revoke(const char *dir, const char *id, const char *reason, const char *sign, const char *out,
                     const char *password_file, ap_error *err)
{
    if (!ap_key_id_valid(id))
        return ap_fail(err, AP_ERR_USAGE, "'%s' is not a key ID (16 hex digits, as 'airpack trust list' shows)", id);
    if (sign) {
        if (!out)
            return ap_fail(err, AP_ERR_USAGE, "--sign writes a statement: say where with -o FILE");
        ap_statement st = {.type = AP_STATEMENT_REVOCATION};
        memcpy(st.key_id, id, sizeof st.key_id);
        ap_time_format((int64_t)time(NULL), st.created);
        if (reason && strlen(reason) > AP_STATEMENT_REASON_MAX)
            return ap_fail(err, AP_ERR_USAGE, "the reason is longer than %d bytes", AP_STATEMENT_REASON_MAX);
        snprintf(st.reason, sizeof st.reason, "%s", reason ? reason : "");
        ap_seckey sk;
        if (secret_key_load(sign, password_file, &sk, err) < 0)
            return -1;
        int rc = ap_statement_save(out, &st, &sk, err);
        ap_seckey_wipe(&sk);
        if (rc == 0)
            printf("wrote %s and %s.minisig: the revocation of key ID %s; 'airpack trust import %s' applies it\n",
                   out, out, id, out);
        return rc;
    }
    bool already;
    if (ap_trust_revoke(dir, id, reason, (int64_t)time(NULL), &already, err) < 0)
        return -1;
    printf("key ID %s %s; its bundles are refused\n", id, already ? "was already revoked" : "is now revoked");
    note_successors(dir, id);
    return 0;
}

int cmd_trust(int argc, char **argv)
{
    const char *statement = NULL, *reason = NULL, *sign = NULL, *out = NULL, *password_file = NULL;
    bool force = false;
    const cli_option options[] = {
        OPT_STRING(0, "statement", &statement),
        OPT_BOOL('f', "force", &force),
        OPT_STRING(0, "reason", &reason),
        OPT_STRING('s', "sign", &sign),
        OPT_STRING('o', "output", &out),
        OPT_STRING(0, "password-file", &password_file),
        OPT_END(),
    };
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    int first = cli_parse_options("trust", usage_text, options, 0, argc - 1, argv + 1);
    if (first < 0)
        return cli_parse_status(first);
    int nargs = argc - 1 - first;
    char **args = argv + 1 + first;
    ap_error err;
    ap_error_clear(&err);
    char dir[4096];
    struct stat st;
    if (ap_minisign_init(&err) < 0 || trusted_dir(dir, sizeof dir, &err) < 0) {
        fprintf(stderr, "airpack trust: %s\n", err.msg);
        return 2;
    }
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "airpack trust: %s is a file, not a trusted-keys directory\n", dir);
        return 2;
    }
    int want = !strcmp(sub, "list") ? 0 : 1, rc;
    if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "rotate") && strcmp(sub, "revoke") &&
        strcmp(sub, "import")) {
        fprintf(stderr, "airpack trust: unknown subcommand '%s'\n", sub);
        fputs(usage_text, stderr);
        return 2;
    }
    if (nargs != want) {
        fprintf(stderr, "airpack trust %s: %s\n", sub, want ? "give exactly one argument" : "takes no argument");
        fputs(usage_text, stderr);
        return 2;
    }
    if (!strcmp(sub, "list"))
        rc = do_list(dir, &err);
    else if (!strcmp(sub, "add"))
        rc = do_add(dir, args[0], statement, force, &err);
    else if (!strcmp(sub, "revoke"))
        rc = do_revoke(dir, args[0], reason, sign, out, password_file, &err);
    else if (!strcmp(sub, "rotate")) {
        char id[2 * AP_KEYNUM_LEN + 1];
        bool already;
        rc = ap_trust_add(dir, NULL, args[0], false, id, &already, &err);
        if (rc == 0)
            printf("key ID %s %s\n", id, already ? "was already trusted" : "is now trusted");
    } else {
        ap_statement s;
        rc = ap_trust_import(dir, args[0], &s, &err);
        if (rc == 0 && s.type == AP_STATEMENT_SUCCESSION) {
            char id[2 * AP_KEYNUM_LEN + 1];
            ap_pubkey_key_id(&s.successor, id);
            printf("key ID %s, successor of %s, is trusted\n", id, s.key_id);
        } else if (rc == 0) {
            printf("key ID %s is revoked (statement of %s); its bundles are refused\n", s.key_id, s.created);
            note_successors(dir, s.key_id);
        }
    }
    if (rc < 0) {
        fprintf(stderr, "airpack trust %s: %s\n", sub, err.msg);
        return exit_status(&err);
    }
    return 0;
}
