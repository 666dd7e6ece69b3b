/* minisign.c: minisign-compatible keys and signatures (see minisign.h).
 *
 * Binary layouts, as minisign writes them (all base64, standard alphabet, padded):
 *   public key  42 bytes:  "Ed" keynum[8] pk[32]
 *   secret key 158 bytes:  "Ed" kdf[2] "B2" salt[32] opslimit_le[8] memlimit_le[8]
 *                          then keynum[8] sk[64] chk[32], xored with scrypt(password)
 *                          when kdf is "Sc"; kdf "\0\0" is an unencrypted key.
 *                          chk = BLAKE2b-256("Ed" || keynum || sk).
 *   signature   74 bytes:  "ED" keynum[8] Ed25519(BLAKE2b-512(msg))   ("Ed": Ed25519(msg))
 *   global sig  64 bytes:  Ed25519(sig[64] || trusted comment)
 * Every text input is parsed by length (it may hold NULs) and every line is
 * bounded before use. */
#include "minisign.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define SIGALG "Ed"
#define SIGALG_HASHED "ED"
#define KDFALG "Sc"
#define CHKALG "B2"
#define COMMENT_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define PUBKEY_DEFAULT_COMMENT "minisign public key "
#define SECKEY_COMMENT_ENCRYPTED "minisign encrypted secret key"
#define SECKEY_COMMENT_PLAIN "minisign secret key, not encrypted"

#define B64_LEN(n) ((((n) + 2) / 3) * 4)
#define PUBKEY_BIN_LEN (2 + AP_KEYNUM_LEN + AP_PK_LEN)                 /* 42 */
#define SIG_BIN_LEN (2 + AP_KEYNUM_LEN + crypto_sign_BYTES)            /* 74 */
#define SALT_LEN crypto_pwhash_scryptsalsa208sha256_SALTBYTES          /* 32 */
#define CHK_LEN crypto_generichash_BYTES                               /* 32 */
/* Secret key offsets. */
#define SK_OFF_KDF 2
#define SK_OFF_CHKALG 4
#define SK_OFF_SALT 6
#define SK_OFF_OPS (SK_OFF_SALT + SALT_LEN)
#define SK_OFF_MEM (SK_OFF_OPS + 8)
#define SK_OFF_KEYNUM (SK_OFF_MEM + 8)
#define SK_OFF_SK (SK_OFF_KEYNUM + AP_KEYNUM_LEN)
#define SK_OFF_CHK (SK_OFF_SK + AP_SK_LEN)
#define SECKEY_BIN_LEN (SK_OFF_CHK + CHK_LEN)                          /* 158 */
#define SK_ENC_LEN (SECKEY_BIN_LEN - SK_OFF_KEYNUM)                    /* 104 */

/* minisign reads comment lines with fgets(buf, 1024): 1022 bytes plus "\n". */
#define COMMENT_LINE_MAX 1022
#define KEY_FILE_MAX 4096
/* Refuse key files asking for absurd scrypt work (minisign writes the SENSITIVE limits). */
#define KDF_OPS_MAX (4ULL * crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE)
#define KDF_MEM_MAX (4ULL * crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE)

static unsigned long long kdf_opslimit = crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE;
static size_t kdf_memlimit = crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE;

void ap_minisign_set_kdf_limits_for_tests(unsigned long long opslimit, size_t memlimit)
{
    kdf_opslimit = opslimit ? opslimit : crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE;
    kdf_memlimit = memlimit ? memlimit : crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE;
}

int ap_minisign_init(ap_error *err)
{
    if (sodium_init() < 0)
        return ap_fail(err, AP_ERR_CRYPTO, "libsodium could not be initialised");
    return 0;
}

/* ---- small helpers ------------------------------------------------------ */

static uint64_t le64_load(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void le64_store(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void key_id_of(const uint8_t keynum[AP_KEYNUM_LEN], char out[2 * AP_KEYNUM_LEN + 1])
{
    snprintf(out, 2 * AP_KEYNUM_LEN + 1, "%016llX", (unsigned long long)le64_load(keynum));
}

void ap_pubkey_key_id(const ap_pubkey *pk, char out[2 * AP_KEYNUM_LEN + 1])
{
    key_id_of(pk->keynum, out);
}

/* The next line of buf[0..len) from *pos: its start and length without "\n" or
 * "\r\n". *newline tells whether it ended with "\n". False at the end of input. */
typedef struct {
    const char *s;
    size_t len;
    bool newline;
} text_line;

static bool next_line(const char *buf, size_t len, size_t *pos, text_line *line)
{
    if (*pos >= len)
        return false;
    const char *start = buf + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    line->s = start;
    line->newline = nl != NULL;
    if (nl && n > 0 && start[n - 1] == '\r')
        n--;
    line->len = n;
    return true;
}

static bool only_space_left(const char *buf, size_t len, size_t pos)
{
    for (; pos < len; pos++)
        if (buf[pos] != '\n' && buf[pos] != '\r' && buf[pos] != ' ' && buf[pos] != '\t')
            return false;
    return true;
}

static bool has_prefix(const text_line *l, const char *prefix)
{
    size_t n = strlen(prefix);
    return l->len >= n && memcmp(l->s, prefix, n) == 0;
}

static bool is_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Decodes exactly out_len bytes from exactly B64_LEN(out_len) characters.
 * The alphabet is checked here first: libsodium 1.0.18 takes some bytes >= 0x80
 * for base64 digits, which would let a signature be written more than one way. */
static int b64_decode_exact(uint8_t *out, size_t out_len, const char *b64, size_t b64_len)
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (b64_len != B64_LEN(out_len))
        return -1;
    size_t pad = (3 - out_len % 3) % 3;
    for (size_t i = 0; i < b64_len; i++)
        if (i < b64_len - pad ? !is_b64_char(b64[i]) : b64[i] != '=')
            return -1;
    if (sodium_base642bin(out, out_len, b64, b64_len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    if (end != b64 + b64_len || bin_len != out_len)
        return -1;
    return 0;
}

/* Appends base64(bin) and "\n" at out (room for B64_LEN(n) + 1 bytes, plus the NUL
 * sodium writes). Returns the number of characters written. */
static size_t b64_put_line(char *out, const uint8_t *bin, size_t n)
{
    sodium_bin2base64(out, B64_LEN(n) + 1, bin, n, sodium_base64_VARIANT_ORIGINAL);
    out[B64_LEN(n)] = '\n';
    return B64_LEN(n) + 1;
}

static bool has_line_break(const char *s)
{
    return strchr(s, '\n') != NULL || strchr(s, '\r') != NULL;
}

/* Reads a whole small file into buf (cap bytes). */
static int read_small_file(const char *path, const char *what, char *buf, size_t cap,
                           size_t *len, ap_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_IO, "reading %s %s", what, path);
    size_t used = 0;
    for (;;) {
        if (used == cap) {
            char extra;
            ssize_t r = read(fd, &extra, 1);
            if (r == 0)
                break;
            if (r < 0 && errno == EINTR)
                continue;
            close(fd);
            if (r < 0)
                return ap_fail_errno(err, AP_ERR_IO, "reading %s %s", what, path);
            return ap_fail(err, AP_ERR_FORMAT, "reading %s %s: not a minisign %s (larger than %zu bytes)",
                           what, path, what, cap);
        }
        ssize_t r = read(fd, buf + used, cap - used);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return ap_fail_errno(err, AP_ERR_IO, "reading %s %s", what, path);
        }
        used += (size_t)r;
    }
    close(fd);
    *len = used;
    return 0;
}

/* Writes a key file atomically (stream.c), naming what it is in the error. */
static int write_key_file(const char *path, const char *what, const void *data, size_t len,
                          mode_t mode, ap_error *err)
{
    if (ap_write_file_atomic(path, data, len, mode, err) < 0) {
        ap_error_prefix(err, "writing %s", what);
        return -1;
    }
    return 0;
}

/* ---- public keys -------------------------------------------------------- */

int ap_pubkey_parse(const char *text, size_t len, ap_pubkey *out, ap_error *err)
{
    if (!text || len == 0)
        return ap_fail(err, AP_ERR_FORMAT, "not a minisign public key (it is empty)");
    size_t pos = 0;
    text_line line;
    unsigned lineno = 1;
    next_line(text, len, &pos, &line);
    if (has_prefix(&line, "untrusted comment:")) {
        if (line.len > COMMENT_LINE_MAX)
            return ap_fail(err, AP_ERR_FORMAT, "not a minisign public key (comment line longer than %d bytes)",
                           COMMENT_LINE_MAX);
        lineno = 2;
        if (!next_line(text, len, &pos, &line))
            return ap_fail(err, AP_ERR_FORMAT, "not a minisign public key (no key after the comment line)");
    }
    /* Tolerate blanks around a pasted key. */
    while (line.len > 0 && (line.s[0] == ' ' || line.s[0] == '\t')) {
        line.s++;
        line.len--;
    }
    while (line.len > 0 && (line.s[line.len - 1] == ' ' || line.s[line.len - 1] == '\t' ||
                            line.s[line.len - 1] == '\r'))
        line.len--;
    if (line.len != B64_LEN(PUBKEY_BIN_LEN))
        return ap_fail(err, AP_ERR_FORMAT,
                       "not a minisign public key (line %u has %zu characters, a key has %d)",
                       lineno, line.len, (int)B64_LEN(PUBKEY_BIN_LEN));
    if (!only_space_left(text, len, pos))
        return ap_fail(err, AP_ERR_FORMAT, "not a minisign public key (unexpected text after the key on line %u)",
                       lineno);
    uint8_t bin[PUBKEY_BIN_LEN];
    if (b64_decode_exact(bin, sizeof bin, line.s, line.len) != 0)
        return ap_fail(err, AP_ERR_FORMAT, "not a minisign public key (line %u is not base64)", lineno);
    if (memcmp(bin, SIGALG, 2) != 0)
        return ap_fail(err, AP_ERR_FORMAT,
                       "not a minisign public key (unsupported signature algorithm 0x%02x%02x; expected \"Ed\")",
                       bin[0], bin[1]);
    memcpy(out->keynum, bin + 2, AP_KEYNUM_LEN);
    memcpy(out->pk, bin + 2 + AP_KEYNUM_LEN, AP_PK_LEN);
    return 0;
}

int ap_pubkey_load(const char *path, ap_pubkey *out, ap_error *err)
{
    char buf[KEY_FILE_MAX];
    size_t len = 0;
    if (read_small_file(path, "public key", buf, sizeof buf, &len, err) != 0)
        return -1;
    if (ap_pubkey_parse(buf, len, out, err) != 0) {
        ap_error_prefix(err, "reading public key %s", path);
        return -1;
    }
    return 0;
}

int ap_pubkey_save_comment(const char *path, const ap_pubkey *pk, const char *comment, ap_error *err)
{
    char id[2 * AP_KEYNUM_LEN + 1];
    ap_pubkey_key_id(pk, id);
    if (comment && (has_line_break(comment) || strlen(comment) > AP_UNTRUSTED_COMMENT_MAX))
        return ap_fail(err, AP_ERR_USAGE, "writing public key %s: the comment must be one line of at most %d bytes",
                       path, AP_UNTRUSTED_COMMENT_MAX);
    uint8_t bin[PUBKEY_BIN_LEN];
    memcpy(bin, SIGALG, 2);
    memcpy(bin + 2, pk->keynum, AP_KEYNUM_LEN);
    memcpy(bin + 2 + AP_KEYNUM_LEN, pk->pk, AP_PK_LEN);
    char text[sizeof COMMENT_PREFIX + AP_UNTRUSTED_COMMENT_MAX + B64_LEN(PUBKEY_BIN_LEN) + 4];
    int n = comment ? snprintf(text, sizeof text, "%s%s\n", COMMENT_PREFIX, comment)
                    : snprintf(text, sizeof text, "%s%s%s\n", COMMENT_PREFIX, PUBKEY_DEFAULT_COMMENT, id);
    size_t used = (size_t)n;
    used += b64_put_line(text + used, bin, sizeof bin);
    return write_key_file(path, "public key", text, used, 0644, err);
}

void ap_pubkey_base64(const ap_pubkey *pk, char out[AP_PUBKEY_B64_LEN + 1])
{
    uint8_t bin[PUBKEY_BIN_LEN];
    memcpy(bin, SIGALG, 2);
    memcpy(bin + 2, pk->keynum, AP_KEYNUM_LEN);
    memcpy(bin + 2 + AP_KEYNUM_LEN, pk->pk, AP_PK_LEN);
    _Static_assert(B64_LEN(PUBKEY_BIN_LEN) == AP_PUBKEY_B64_LEN, "public key base64 length");
    sodium_bin2base64(out, AP_PUBKEY_B64_LEN + 1, bin, sizeof bin, sodium_base64_VARIANT_ORIGINAL);
}

int ap_pubkey_save(const char *path, const ap_pubkey *pk, ap_error *err)
{
    return ap_pubkey_save_comment(path, pk, NULL, err);
}

/* ---- secret keys -------------------------------------------------------- */

static void seckey_checksum(uint8_t chk[CHK_LEN], const uint8_t keynum[AP_KEYNUM_LEN],
                            const uint8_t sk[AP_SK_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CHK_LEN);
    crypto_generichash_update(&st, (const uint8_t *)SIGALG, 2);
    crypto_generichash_update(&st, keynum, AP_KEYNUM_LEN);
    crypto_generichash_update(&st, sk, AP_SK_LEN);
    crypto_generichash_final(&st, chk, CHK_LEN);
    sodium_memzero(&st, sizeof st);
}

/* Reads and decodes a secret key file into bin[SECKEY_BIN_LEN]; checks the algorithms. */
static int seckey_read(const char *path, uint8_t bin[SECKEY_BIN_LEN], ap_error *err)
{
    char buf[KEY_FILE_MAX];
    size_t len = 0;
    int rc = -1;
    if (read_small_file(path, "secret key", buf, sizeof buf, &len, err) != 0)
        goto out;
    size_t pos = 0;
    text_line comment, key;
    if (!next_line(buf, len, &pos, &comment) || !next_line(buf, len, &pos, &key)) {
        ap_fail(err, AP_ERR_FORMAT, "reading secret key %s: not a minisign secret key (fewer than 2 lines)", path);
        goto out;
    }
    if (comment.len > COMMENT_LINE_MAX) {
        ap_fail(err, AP_ERR_FORMAT, "reading secret key %s: not a minisign secret key (comment line longer than %d bytes)",
                path, COMMENT_LINE_MAX);
        goto out;
    }
    if (key.len != B64_LEN(SECKEY_BIN_LEN) || b64_decode_exact(bin, SECKEY_BIN_LEN, key.s, key.len) != 0) {
        ap_fail(err, AP_ERR_FORMAT,
                "reading secret key %s: not a minisign secret key (line 2 is not %d characters of base64)",
                path, (int)B64_LEN(SECKEY_BIN_LEN));
        goto out;
    }
    if (memcmp(bin, SIGALG, 2) != 0) {
        ap_fail(err, AP_ERR_FORMAT, "reading secret key %s: unsupported signature algorithm (expected \"Ed\")", path);
        goto out;
    }
    if (memcmp(bin + SK_OFF_CHKALG, CHKALG, 2) != 0) {
        ap_fail(err, AP_ERR_FORMAT, "reading secret key %s: unsupported checksum function (expected \"B2\")", path);
        goto out;
    }
    if (memcmp(bin + SK_OFF_KDF, KDFALG, 2) != 0 && memcmp(bin + SK_OFF_KDF, "\0\0", 2) != 0) {
        ap_fail(err, AP_ERR_FORMAT,
                "reading secret key %s: unsupported key derivation function (expected \"Sc\" or none)", path);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int ap_seckey_is_encrypted(const char *path, bool *encrypted, ap_error *err)
{
    uint8_t bin[SECKEY_BIN_LEN];
    int rc = seckey_read(path, bin, err);
    if (rc == 0)
        *encrypted = memcmp(bin + SK_OFF_KDF, KDFALG, 2) == 0;
    sodium_memzero(bin, sizeof bin);
    return rc;
}

int ap_seckey_load(const char *path, const char *password, ap_seckey *out, ap_error *err)
{
    uint8_t bin[SECKEY_BIN_LEN];
    uint8_t stream[SK_ENC_LEN];
    uint8_t chk[CHK_LEN];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    int rc = -1;
    if (seckey_read(path, bin, err) != 0)
        goto out;
    bool encrypted = memcmp(bin + SK_OFF_KDF, KDFALG, 2) == 0;
    if (encrypted) {
        if (!password) {
            ap_fail(err, AP_ERR_CRYPTO, "secret key %s is encrypted and no password was given", path);
            goto out;
        }
        uint64_t ops = le64_load(bin + SK_OFF_OPS), mem = le64_load(bin + SK_OFF_MEM);
        if (ops > KDF_OPS_MAX || mem > KDF_MEM_MAX) {
            ap_fail(err, AP_ERR_CRYPTO,
                    "reading secret key %s: its scrypt limits (opslimit %llu, memlimit %llu) exceed what airpack accepts",
                    path, (unsigned long long)ops, (unsigned long long)mem);
            goto out;
        }
        if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof stream, password, strlen(password),
                                               bin + SK_OFF_SALT, ops, (size_t)mem) != 0) {
            ap_fail(err, AP_ERR_NOMEM, "reading secret key %s: deriving the key from the password failed (out of memory?)",
                    path);
            goto out;
        }
        for (size_t i = 0; i < sizeof stream; i++)
            bin[SK_OFF_KEYNUM + i] ^= stream[i];
    }
    seckey_checksum(chk, bin + SK_OFF_KEYNUM, bin + SK_OFF_SK);
    if (sodium_memcmp(chk, bin + SK_OFF_CHK, CHK_LEN) != 0) {
        /* minisign -G -W leaves the checksum of an unencrypted key all zero. */
        if (encrypted) {
            ap_fail(err, AP_ERR_CRYPTO, "wrong password for secret key %s", path);
            goto out;
        }
        if (!sodium_is_zero(bin + SK_OFF_CHK, CHK_LEN)) {
            ap_fail(err, AP_ERR_CRYPTO, "secret key %s is corrupt (checksum mismatch)", path);
            goto out;
        }
    }
    /* The second half of an Ed25519 secret key is its public key: check it. */
    crypto_sign_seed_keypair(pk, sk, bin + SK_OFF_SK);
    if (sodium_memcmp(sk, bin + SK_OFF_SK, AP_SK_LEN) != 0) {
        ap_fail(err, AP_ERR_CRYPTO, "secret key %s is corrupt (its public half does not match its seed)", path);
        goto out;
    }
    memcpy(out->keynum, bin + SK_OFF_KEYNUM, AP_KEYNUM_LEN);
    memcpy(out->sk, bin + SK_OFF_SK, AP_SK_LEN);
    rc = 0;
out:
    sodium_memzero(bin, sizeof bin);
    sodium_memzero(stream, sizeof stream);
    sodium_memzero(chk, sizeof chk);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

int ap_seckey_save(const char *path, const ap_seckey *key, const char *password, ap_error *err)
{
    uint8_t bin[SECKEY_BIN_LEN];
    uint8_t stream[SK_ENC_LEN];
    char text[sizeof COMMENT_PREFIX + sizeof SECKEY_COMMENT_PLAIN + B64_LEN(SECKEY_BIN_LEN) + 4];
    int rc = -1;
    memset(bin, 0, sizeof bin);
    memcpy(bin, SIGALG, 2);
    memcpy(bin + SK_OFF_CHKALG, CHKALG, 2);
    memcpy(bin + SK_OFF_KEYNUM, key->keynum, AP_KEYNUM_LEN);
    memcpy(bin + SK_OFF_SK, key->sk, AP_SK_LEN);
    seckey_checksum(bin + SK_OFF_CHK, key->keynum, key->sk);
    if (password) {
        if (strlen(password) > AP_PASSWORD_MAX) {
            ap_fail(err, AP_ERR_USAGE, "writing secret key %s: the password is longer than %d bytes",
                    path, AP_PASSWORD_MAX);
            goto out;
        }
        memcpy(bin + SK_OFF_KDF, KDFALG, 2);
        randombytes_buf(bin + SK_OFF_SALT, SALT_LEN);
        unsigned long long ops = kdf_opslimit;
        size_t mem = kdf_memlimit;
        /* As minisign does: halve the work until the machine can afford it. */
        while (crypto_pwhash_scryptsalsa208sha256(stream, sizeof stream, password, strlen(password),
                                                  bin + SK_OFF_SALT, ops, mem) != 0) {
            ops /= 2;
            mem /= 2;
            if (ops < crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN ||
                mem < crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN) {
                ap_fail(err, AP_ERR_NOMEM, "writing secret key %s: not enough memory to derive a key from the password",
                        path);
                goto out;
            }
        }
        le64_store(bin + SK_OFF_OPS, ops);
        le64_store(bin + SK_OFF_MEM, mem);
        for (size_t i = 0; i < sizeof stream; i++)
            bin[SK_OFF_KEYNUM + i] ^= stream[i];
    }
    int n = snprintf(text, sizeof text, "%s%s\n", COMMENT_PREFIX,
                     password ? SECKEY_COMMENT_ENCRYPTED : SECKEY_COMMENT_PLAIN);
    size_t used = (size_t)n;
    used += b64_put_line(text + used, bin, sizeof bin);
    rc = write_key_file(path, "secret key", text, used, 0600, err);
out:
    sodium_memzero(bin, sizeof bin);
    sodium_memzero(stream, sizeof stream);
    sodium_memzero(text, sizeof text);
    return rc;
}

void ap_seckey_wipe(ap_seckey *sk)
{
    if (sk)
        sodium_memzero(sk, sizeof *sk);
}

void ap_keypair_generate(ap_pubkey *pk, ap_seckey *sk)
{
    if (sodium_init() < 0)
        abort();   /* cannot happen after ap_minisign_init succeeded */
    randombytes_buf(sk->keynum, AP_KEYNUM_LEN);
    crypto_sign_keypair(pk->pk, sk->sk);
    memcpy(pk->keynum, sk->keynum, AP_KEYNUM_LEN);
}

void ap_seckey_public(const ap_seckey *sk, ap_pubkey *pk)
{
    memcpy(pk->keynum, sk->keynum, AP_KEYNUM_LEN);
    crypto_sign_ed25519_sk_to_pk(pk->pk, sk->sk);
}

/* ---- signatures --------------------------------------------------------- */

#define DEFAULT_UNTRUSTED_COMMENT "signature from airpack secret key"

size_t ap_signature_size(const char *untrusted_comment, const char *trusted_comment)
{
    const char *uc = untrusted_comment ? untrusted_comment : DEFAULT_UNTRUSTED_COMMENT;
    const char *tc = trusted_comment ? trusted_comment : "";
    return strlen(COMMENT_PREFIX) + strlen(uc) + 1 + B64_LEN(SIG_BIN_LEN) + 1 +
           strlen(TRUSTED_PREFIX) + strlen(tc) + 1 + B64_LEN(crypto_sign_BYTES) + 1;
}

int ap_sign(const ap_seckey *sk, const void *msg, size_t msg_len,
            const char *untrusted_comment, const char *trusted_comment,
            char **sig_text, size_t *sig_len, ap_error *err)
{
    const char *uc = untrusted_comment ? untrusted_comment : DEFAULT_UNTRUSTED_COMMENT;
    const char *tc = trusted_comment ? trusted_comment : "";
    size_t tc_len = strlen(tc);
    if (!msg && msg_len > 0)
        return ap_fail(err, AP_ERR_USAGE, "signing: no message");
    if (has_line_break(uc) || strlen(uc) > AP_UNTRUSTED_COMMENT_MAX)
        return ap_fail(err, AP_ERR_USAGE, "signing: the untrusted comment must be one line of at most %d bytes",
                       AP_UNTRUSTED_COMMENT_MAX);
    if (has_line_break(tc) || tc_len > AP_TRUSTED_COMMENT_MAX)
        return ap_fail(err, AP_ERR_USAGE, "signing: the trusted comment must be one line of at most %d bytes",
                       AP_TRUSTED_COMMENT_MAX);

    uint8_t hash[crypto_generichash_BYTES_MAX];
    uint8_t sig[SIG_BIN_LEN];
    uint8_t global_sig[crypto_sign_BYTES];
    uint8_t signed_tc[crypto_sign_BYTES + AP_TRUSTED_COMMENT_MAX];
    crypto_generichash(hash, sizeof hash, msg, msg_len, NULL, 0);
    memcpy(sig, SIGALG_HASHED, 2);
    memcpy(sig + 2, sk->keynum, AP_KEYNUM_LEN);
    crypto_sign_detached(sig + 2 + AP_KEYNUM_LEN, NULL, hash, sizeof hash, sk->sk);
    memcpy(signed_tc, sig + 2 + AP_KEYNUM_LEN, crypto_sign_BYTES);
    memcpy(signed_tc + crypto_sign_BYTES, tc, tc_len);
    crypto_sign_detached(global_sig, NULL, signed_tc, crypto_sign_BYTES + tc_len, sk->sk);

    size_t size = ap_signature_size(uc, tc);
    char *text = malloc(size + 1);
    if (!text)
        return ap_fail(err, AP_ERR_NOMEM, "signing: out of memory");
    size_t used = (size_t)sprintf(text, "%s%s\n", COMMENT_PREFIX, uc);
    used += b64_put_line(text + used, sig, sizeof sig);
    used += (size_t)sprintf(text + used, "%s%s\n", TRUSTED_PREFIX, tc);
    used += b64_put_line(text + used, global_sig, sizeof global_sig);
    text[used] = '\0';
    if (used != size) {   /* cannot happen: ap_signature_size counts the same pieces */
        free(text);
        return ap_fail(err, AP_ERR_CRYPTO, "signing: internal error (signature size %zu, expected %zu)", used, size);
    }
    *sig_text = text;
    *sig_len = used;
    return 0;
}

int ap_verify(const ap_pubkey *keys, size_t n_keys, const void *msg, size_t msg_len,
              const char *sig_text, size_t sig_len, ap_sig_info *info, ap_error *err)
{
    if (!sig_text)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: it is empty");
    if (!msg && msg_len > 0)
        return ap_fail(err, AP_ERR_USAGE, "verifying: no message");
    size_t pos = 0;
    text_line uc, sig_line, tc_line, gsig_line;
    if (!next_line(sig_text, sig_len, &pos, &uc) || !uc.newline)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: no untrusted comment line");
    if (!has_prefix(&uc, COMMENT_PREFIX))
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: line 1 does not start with \"%s\"", COMMENT_PREFIX);
    if (uc.len > COMMENT_LINE_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: untrusted comment line longer than %d bytes",
                       COMMENT_LINE_MAX);
    if (!next_line(sig_text, sig_len, &pos, &sig_line) || !sig_line.newline)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: no signature line");
    uint8_t sig[SIG_BIN_LEN];
    if (sig_line.len != B64_LEN(SIG_BIN_LEN) || b64_decode_exact(sig, sizeof sig, sig_line.s, sig_line.len) != 0)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: line 2 is not %d characters of base64",
                       (int)B64_LEN(SIG_BIN_LEN));
    bool hashed;
    if (memcmp(sig, SIGALG_HASHED, 2) == 0)
        hashed = true;
    else if (memcmp(sig, SIGALG, 2) == 0)
        hashed = false;
    else
        return ap_fail(err, AP_ERR_FORMAT, "unsupported signature algorithm 0x%02x%02x (expected \"ED\" or \"Ed\")",
                       sig[0], sig[1]);
    if (!next_line(sig_text, sig_len, &pos, &tc_line) || !tc_line.newline)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: no trusted comment line");
    if (!has_prefix(&tc_line, TRUSTED_PREFIX))
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: line 3 does not start with \"%s\"", TRUSTED_PREFIX);
    const char *tc = tc_line.s + strlen(TRUSTED_PREFIX);
    size_t tc_len = tc_line.len - strlen(TRUSTED_PREFIX);
    if (tc_len > AP_TRUSTED_COMMENT_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: trusted comment longer than %d bytes",
                       AP_TRUSTED_COMMENT_MAX);
    if (memchr(tc, '\0', tc_len) || memchr(tc, '\r', tc_len))
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: trusted comment holds a NUL or carriage return");
    if (!next_line(sig_text, sig_len, &pos, &gsig_line))
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: no global signature line");
    uint8_t global_sig[crypto_sign_BYTES];
    if (gsig_line.len != B64_LEN(crypto_sign_BYTES) ||
        b64_decode_exact(global_sig, sizeof global_sig, gsig_line.s, gsig_line.len) != 0)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: line 4 is not %d characters of base64",
                       (int)B64_LEN(crypto_sign_BYTES));
    if (!only_space_left(sig_text, sig_len, pos))
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: unexpected text after line 4");

    const uint8_t *keynum = sig + 2;
    const uint8_t *sig64 = sig + 2 + AP_KEYNUM_LEN;
    char key_id[2 * AP_KEYNUM_LEN + 1];
    key_id_of(keynum, key_id);

    uint8_t hash[crypto_generichash_BYTES_MAX];
    const void *signed_msg = msg;
    size_t signed_len = msg_len;
    if (hashed) {
        crypto_generichash(hash, sizeof hash, msg, msg_len, NULL, 0);
        signed_msg = hash;
        signed_len = sizeof hash;
    }
    const ap_pubkey *key = NULL;
    bool key_id_known = false;
    for (size_t i = 0; i < n_keys && !key; i++) {
        if (memcmp(keys[i].keynum, keynum, AP_KEYNUM_LEN) != 0)
            continue;
        key_id_known = true;
        if (crypto_sign_verify_detached(sig64, signed_msg, signed_len, keys[i].pk) == 0)
            key = &keys[i];
    }
    if (!key_id_known) {
        if (n_keys == 0)
            return ap_fail(err, AP_ERR_VERIFY, "signed by key ID %s, which is not trusted (no trusted keys given)",
                           key_id);
        return ap_fail(err, AP_ERR_VERIFY, "signed by key ID %s, which is not trusted", key_id);
    }
    if (!key)
        return ap_fail(err, AP_ERR_VERIFY, "signature verification failed: the signed data does not match (key ID %s)",
                       key_id);

    uint8_t signed_tc[crypto_sign_BYTES + AP_TRUSTED_COMMENT_MAX];
    memcpy(signed_tc, sig64, crypto_sign_BYTES);
    memcpy(signed_tc + crypto_sign_BYTES, tc, tc_len);
    if (crypto_sign_verify_detached(global_sig, signed_tc, crypto_sign_BYTES + tc_len, key->pk) != 0)
        return ap_fail(err, AP_ERR_VERIFY, "trusted comment does not match its signature (key ID %s)", key_id);
    if (info) {
        memcpy(info->key_id, key_id, sizeof info->key_id);
        memcpy(info->trusted_comment, tc, tc_len);
        info->trusted_comment[tc_len] = '\0';
    }
    return 0;
}

int ap_signature_key_id(const char *sig_text, size_t sig_len, char out[2 * AP_KEYNUM_LEN + 1], ap_error *err)
{
    size_t pos = 0;
    text_line uc, sig_line;
    uint8_t sig[SIG_BIN_LEN];
    if (!sig_text || !next_line(sig_text, sig_len, &pos, &uc) || !uc.newline || !has_prefix(&uc, COMMENT_PREFIX) ||
        !next_line(sig_text, sig_len, &pos, &sig_line) || sig_line.len != B64_LEN(SIG_BIN_LEN) ||
        b64_decode_exact(sig, sizeof sig, sig_line.s, sig_line.len) != 0)
        return ap_fail(err, AP_ERR_FORMAT, "malformed signature: no key ID in its first two lines");
    key_id_of(sig + 2, out);
    return 0;
}

/* ---- default paths ------------------------------------------------------ */

const char *ap_home_dir(void)
{
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    return home && *home ? home : NULL;
}

int ap_default_seckey_path(char *out, size_t n, ap_error *err)
{
    const char *env = getenv("AIRPACK_SECRET_KEY");
    int len;
    if (env && *env) {
        len = snprintf(out, n, "%s", env);
    } else if ((env = getenv("AIRPACK_CONFIG_DIR")) && *env) {
        len = snprintf(out, n, "%s/airpack.key", env);
    } else {
        const char *home = ap_home_dir();
        if (!home)
            return ap_fail(err, AP_ERR_USAGE,
                           "no home directory to find the secret key in: set AIRPACK_CONFIG_DIR or use -s FILE");
        len = snprintf(out, n, "%s/.airpack/airpack.key", home);
    }
    if (len < 0 || (size_t)len >= n)
        return ap_fail(err, AP_ERR_USAGE, "the default secret key path is too long");
    return 0;
}
