/* options.h: every command's options declared in one table, parsed by one function
 * (in the style of git's parse-options.h).
 *
 * A command lists its options as an array of cli_option ending in OPT_END(), using the
 * shared entries below for the options several commands take (the key options, --window,
 * the registry options, --json, -q), and calls cli_parse_options(). That function
 * handles -h/--help, says what is wrong with a bad option ("airpack verify: option
 * --window takes a number from 10 to 31 (log2 bytes), not 'x'"), and leaves the
 * arguments that are not options at argv[*first_arg .. argc). A bad option is exit
 * status 2 (cli_parse_options returns CLI_PARSE_ERROR); --help is 0 (CLI_PARSE_HELP). */
#ifndef AIRPACK_OPTIONS_H
#define AIRPACK_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "keys.h"

typedef enum {
    CLI_OPT_END = 0,
    CLI_OPT_BOOL,          /* sets *(bool *)value */
    CLI_OPT_STRING,        /* *(const char **)value = the argument (the last one given wins) */
    CLI_OPT_STRING_LIST,   /* appends the argument to *(cli_strings *)value (repeatable) */
    CLI_OPT_CALLBACK,      /* fn(value, argument, err); the argument is NULL when takes_arg is false */
} cli_option_type;

typedef int (*cli_option_fn)(void *value, const char *arg, ap_error *err);

typedef struct {
    cli_option_type type;
    int short_name;         /* 0: long only */
    const char *long_name;  /* NULL: short only */
    void *value;
    cli_option_fn fn;       /* CLI_OPT_CALLBACK */
    bool takes_arg;         /* CLI_OPT_CALLBACK: whether it takes an argument */
} cli_option;

/* A repeatable option's arguments, in order. Free with cli_strings_free. */
typedef struct {
    const char **v;         /* NULL-terminated once anything was added */
    size_t n;
} cli_strings;
void cli_strings_free(cli_strings *s);

/* The registry options (--tls-verify=true|false, --authfile FILE, --creds USER:PASS). */
typedef struct {
    bool tls_verify;        /* true unless --tls-verify=false; set it before parsing */
    const char *authfile;
    const char *creds;
} cli_registry_opts;

/* The signing-key options (-s/--secret-key FILE, --password-file FILE). */
typedef struct {
    const char *path;       /* NULL: the default secret key */
    const char *password_file;
} cli_secret_key_opts;

int cli_opt_pubkey_file(void *keys, const char *arg, ap_error *err);
int cli_opt_pubkey_base64(void *keys, const char *arg, ap_error *err);
int cli_opt_window(void *window_log, const char *arg, ap_error *err);
int cli_opt_tls_verify(void *tls_verify, const char *arg, ap_error *err);

#define OPT_END() {CLI_OPT_END, 0, NULL, NULL, NULL, false}
#define OPT_BOOL(s, l, v) {CLI_OPT_BOOL, (s), (l), (v), NULL, false}
#define OPT_STRING(s, l, v) {CLI_OPT_STRING, (s), (l), (v), NULL, true}
#define OPT_STRING_LIST(s, l, v) {CLI_OPT_STRING_LIST, (s), (l), (v), NULL, true}
#define OPT_CALLBACK(s, l, v, f) {CLI_OPT_CALLBACK, (s), (l), (v), (f), true}

/* Shared entries. */
/* -p/--pubkey FILE and -P/--pubkey-base64 KEY, repeatable, into a trusted_keys */
#define OPT_TRUSTED_KEYS(keys)                                   \
    OPT_CALLBACK('p', "pubkey", (keys), cli_opt_pubkey_file),    \
    OPT_CALLBACK('P', "pubkey-base64", (keys), cli_opt_pubkey_base64)
/* -s/--secret-key FILE and --password-file FILE, into a cli_secret_key_opts */
#define OPT_SECRET_KEY(sk)                                       \
    OPT_STRING('s', "secret-key", &(sk)->path),                  \
    OPT_STRING(0, "password-file", &(sk)->password_file)
/* --window N: a zstd window of 2^N bytes, N from 10 to 31, into an unsigned */
#define OPT_WINDOW(w) OPT_CALLBACK(0, "window", (w), cli_opt_window)
/* --tls-verify=BOOL, --authfile FILE, --creds USER:PASS, into a cli_registry_opts */
#define OPT_REGISTRY(r)                                          \
    OPT_CALLBACK(0, "tls-verify", &(r)->tls_verify, cli_opt_tls_verify), \
    OPT_STRING(0, "authfile", &(r)->authfile),                   \
    OPT_STRING(0, "creds", &(r)->creds)
#define OPT_JSON(b) OPT_BOOL(0, "json", (b))
#define OPT_QUIET(b) OPT_BOOL('q', "quiet", (b))

enum {
    CLI_PARSE_IN_ORDER = 1,     /* options end at the first argument that is not one
                                   (otherwise options may follow the arguments) */
};
enum { CLI_PARSE_HELP = -1, CLI_PARSE_ERROR = -2 };

/* Parses argv[1..argc) (argv[0] is the command's name) against opts. Returns the index
 * of the first argument that is not an option, or CLI_PARSE_HELP after printing usage
 * on stdout, or CLI_PARSE_ERROR after printing "airpack CMD: what was wrong" and the
 * usage on stderr. Use cli_parse_status() for the exit status of the last two. */
int cli_parse_options(const char *cmd, const char *usage, const cli_option *opts, int flags, int argc,
                      char **argv);
static inline int cli_parse_status(int parsed)
{
    return parsed == CLI_PARSE_HELP ? 0 : 2;
}

/* Prints "airpack CMD: msg" and the usage on stderr; returns 2 (a usage error). */
int cli_usage_error(const char *cmd, const char *usage, const char *msg);

#endif
