/* cmd_keygen.c: `airpack keygen`: create a minisign-compatible key pair.
 *
 * The public key goes to ./airpack.pub, the secret key to the config directory
 * ($AIRPACK_CONFIG_DIR, else ~/.airpack, created 0700) as airpack.key, mode 0600.
 * Existing files are kept unless -f. The secret key is encrypted with a password
 * (scrypt, as minisign does) unless -W. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../formats/formats.h"
#include "commands.h"
#include "keys.h"
#include "options.h"

static const char usage_text[] =
    "usage: airpack keygen [-p PUB] [-s SEC] [-W] [-f] [-c COMMENT] [--password-file F]\n"
    "                      [--rotate-from OLD.key [--statement FILE]]\n"
    "\n"
    "Creates a minisign-compatible Ed25519 key pair for signing bundles.\n"
    "\n"
    "  -p PUB              public key file (default: ./airpack.pub)\n"
    "  -s SEC              secret key file (default: $AIRPACK_CONFIG_DIR/airpack.key,\n"
    "                      else ~/.airpack/airpack.key)\n"
    "  -W                  do not encrypt the secret key with a password\n"
    "  -f                  overwrite existing key files\n"
    "  -c COMMENT          untrusted comment for the public key file\n"
    "  --password-file F   read the password from the first line of F\n"
    "  --rotate-from OLD.key  the new key succeeds OLD.key: also write a succession\n"
    "                      statement signed by OLD.key (FILE, default PUB.succession,\n"
    "                      and FILE.minisig), which 'airpack trust add PUB' on the far\n"
    "                      side accepts from a key it trusts\n"
    "\n"
    "The password comes from AIRPACK_PASSWORD, else --password-file, else the terminal.\n";

/* Creates the parent directory of path (one level, mode 0700) when it is missing. */
static int make_parent_dir(const char *path)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s", path) >= sizeof dir)
        return 0;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "airpack keygen: creating directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int refuse_existing(const char *path, const char *what)
{
    if (access(path, F_OK) != 0)
        return 0;
    fprintf(stderr, "airpack keygen: %s %s already exists; use -f to overwrite it\n", what, path);
    return -1;
}

/* The password for the new secret key (not empty). */
static int read_new_password(const char *password_file, char **out)
{
    ap_error err;
    ap_error_clear(&err);
    char *password = ap_read_password(password_file, "Password for the new secret key: ", true, &err);
    if (!password) {
        fprintf(stderr, "airpack keygen: %s (or use -W for a key without a password)\n", err.msg);
        return -1;
    }
    if (!*password) {
        ap_password_free(password);
        fprintf(stderr, "airpack keygen: the password is empty; choose one, or use -W for a key without a password\n");
        return -1;
    }
    fprintf(stderr, "Deriving a key from the password (scrypt, about 1 GiB of memory)...\n");
    *out = password;
    return 0;
}

/* What was written, and how to verify with airpack or with minisign. */
static void print_next_steps(const ap_pubkey *pk, const char *sec_path, const char *pub_path, bool unencrypted)
{
    char id[2 * AP_KEYNUM_LEN + 1], pub_b64[AP_PUBKEY_B64_LEN + 1];
    ap_pubkey_key_id(pk, id);
    ap_pubkey_base64(pk, pub_b64);
    printf("key ID %s\n", id);
    printf("secret key: %s (%s) - keep it secret\n", sec_path,
           unencrypted ? "NOT encrypted" : "encrypted with your password");
    printf("public key: %s - give it to whoever verifies your bundles\n", pub_path);
    printf("\nVerify a bundle with airpack:\n  airpack verify -p %s BUNDLE\n", pub_path);
    printf("or its signed index with minisign:\n"
           "  tar -xf BUNDLE airpack/bundle.json airpack/bundle.json.minisig\n"
           "  minisign -Vm airpack/bundle.json -P %s\n", pub_b64);
}

int cmd_keygen(int argc, char **argv)
{
    const char *pub_path = "./airpack.pub", *sec_path = NULL, *comment = NULL, *password_file = NULL;
    const char *rotate_from = NULL, *statement = NULL;
    bool unencrypted = false, force = false;
    const cli_option options[] = {
        OPT_STRING('p', NULL, &pub_path),
        OPT_STRING('s', NULL, &sec_path),
        OPT_STRING(0, "password-file", &password_file),
        OPT_BOOL('W', NULL, &unencrypted),
        OPT_BOOL('f', NULL, &force),
        OPT_STRING('c', NULL, &comment),
        OPT_STRING(0, "rotate-from", &rotate_from),
        OPT_STRING(0, "statement", &statement),
        OPT_END(),
    };
    int first = cli_parse_options("keygen", usage_text, options, 0, argc, argv);
    if (first < 0)
        return cli_parse_status(first);
    if (first != argc) {
        char msg[512];
        snprintf(msg, sizeof msg, "unexpected argument '%.400s'", argv[first]);
        return cli_usage_error("keygen", usage_text, msg);
    }
    ap_error err;
    ap_error_clear(&err);
    if (cli_crypto_init("keygen"))
        return 2;
    char sec_default[4096];
    if (!sec_path) {
        if (ap_default_seckey_path(sec_default, sizeof sec_default, &err) != 0) {
            fprintf(stderr, "airpack keygen: %s\n", err.msg);
            return 2;
        }
        sec_path = sec_default;
    }
    if (!force && (refuse_existing(sec_path, "secret key") || refuse_existing(pub_path, "public key")))
        return 2;
    if (statement && !rotate_from) {
        fprintf(stderr, "airpack keygen: --statement goes with --rotate-from\n");
        return 2;
    }
    /* the old key first: a rotation that cannot be signed makes no new key */
    ap_seckey old;
    char stmt_default[4200];
    if (rotate_from) {
        if (secret_key_load(rotate_from, password_file, &old, &err) < 0) {
            fprintf(stderr, "airpack keygen: --rotate-from: %s\n", err.msg);
            return 2;
        }
        if (!statement) {
            snprintf(stmt_default, sizeof stmt_default, "%s.succession", pub_path);
            statement = stmt_default;
        }
        if (!force && refuse_existing(statement, "statement")) {
            ap_seckey_wipe(&old);
            return 2;
        }
    }
    if (make_parent_dir(sec_path) != 0) {
        if (rotate_from)
            ap_seckey_wipe(&old);
        return 2;
    }

    char *password = NULL;
    if (!unencrypted && read_new_password(password_file, &password) < 0) {
        if (rotate_from)
            ap_seckey_wipe(&old);
        return 2;
    }

    ap_pubkey pk;
    ap_seckey sk;
    ap_keypair_generate(&pk, &sk);
    if (rotate_from) {
        ap_statement st = {.type = AP_STATEMENT_SUCCESSION, .successor = pk};
        ap_pubkey old_pk;
        ap_seckey_public(&old, &old_pk);
        ap_pubkey_key_id(&old_pk, st.key_id);
        ap_time_format((int64_t)time(NULL), st.created);
        int src = ap_statement_save(statement, &st, &old, &err);
        ap_seckey_wipe(&old);
        if (src < 0) {
            ap_seckey_wipe(&sk);
            ap_password_free(password);
            fprintf(stderr, "airpack keygen: %s; no key was written\n", err.msg);
            return 2;
        }
        printf("succession statement: %s (+ .minisig), signed by the old key ID %s\n", statement, st.key_id);
    }
    bool sec_existed = access(sec_path, F_OK) == 0;
    int rc = ap_seckey_save(sec_path, &sk, password, &err);
    ap_seckey_wipe(&sk);
    ap_password_free(password);
    if (rc != 0) {
        fprintf(stderr, "airpack keygen: %s\n", err.msg);
        return 2;
    }
    if (ap_pubkey_save_comment(pub_path, &pk, comment, &err) != 0) {
        fprintf(stderr, "airpack keygen: %s\n", err.msg);
        if (!sec_existed)
            unlink(sec_path);   /* a secret key without its public key is of no use */
        return 2;
    }

    print_next_steps(&pk, sec_path, pub_path, unencrypted);
    return 0;
}
