/* options.c: one option parser for every command (see options.h). It builds getopt_long's
 * tables from the command's cli_option table, so the syntax is getopt's (clusters -qp FILE,
 * --name=value or --name value, -- ends the options) and the messages are ours. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP_VAL 'h'
#define LONG_VAL_BASE 256   /* a long option's getopt value: LONG_VAL_BASE + its table index */

void cli_strings_free(cli_strings *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int strings_add(cli_strings *s, const char *arg, ap_error *err)
{
    const char **grown = realloc(s->v, (s->n + 2) * sizeof *grown);
    if (!grown)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    s->v = grown;
    s->v[s->n++] = arg;
    s->v[s->n] = NULL;
    return 0;
}

int cli_opt_pubkey_file(void *keys, const char *arg, ap_error *err)
{
    return trusted_keys_add_file(keys, arg, err);
}

int cli_opt_pubkey_base64(void *keys, const char *arg, ap_error *err)
{
    return trusted_keys_add_base64(keys, arg, err);
}

int cli_opt_window(void *window_log, const char *arg, ap_error *err)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < 10 || v > 31)
        return ap_fail(err, AP_ERR_USAGE, "--window takes a number from 10 to 31 (log2 bytes), not '%s'", arg);
    *(unsigned *)window_log = (unsigned)v;
    return 0;
}

int cli_opt_tls_verify(void *tls_verify, const char *arg, ap_error *err)
{
    if (strcmp(arg, "true") && strcmp(arg, "false"))
        return ap_fail(err, AP_ERR_USAGE, "--tls-verify takes true or false, not '%s'", arg);
    *(bool *)tls_verify = !strcmp(arg, "true");
    return 0;
}

static bool takes_arg(const cli_option *o)
{
    return o->type == CLI_OPT_CALLBACK ? o->takes_arg : o->type != CLI_OPT_BOOL;
}

static int apply(const cli_option *o, const char *arg, ap_error *err)
{
    switch (o->type) {
    case CLI_OPT_BOOL: *(bool *)o->value = true; return 0;
    case CLI_OPT_STRING: *(const char **)o->value = arg; return 0;
    case CLI_OPT_STRING_LIST: return strings_add(o->value, arg, err);
    case CLI_OPT_CALLBACK: return o->fn(o->value, arg, err);
    case CLI_OPT_END: break;
    }
    return ap_fail(err, AP_ERR_USAGE, "internal error: bad option table");
}

/* What getopt_long stopped at, in words: '?' an unknown option (or a value given to one that
 * takes none), ':' an option without its argument. */
static void say_bad_option(const char *cmd, const cli_option *opts, int c, const char *arg_text)
{
    if (optopt >= LONG_VAL_BASE) {
        const char *name = opts[optopt - LONG_VAL_BASE].long_name;
        fprintf(stderr, "airpack %s: option --%s %s\n", cmd, name,
                c == ':' ? "needs an argument" : "takes no value");
    } else if (optopt == HELP_VAL && c == '?') {
        fprintf(stderr, "airpack %s: option --help takes no value\n", cmd);
    } else if (optopt) {
        fprintf(stderr, "airpack %s: option -%c %s\n", cmd, optopt,
                c == ':' ? "needs an argument" : "is not known");
    } else {
        fprintf(stderr, "airpack %s: option %s is not known\n", cmd, arg_text ? arg_text : "?");
    }
}

int cli_usage_error(const char *cmd, const char *usage, const char *msg)
{
    fprintf(stderr, "airpack %s: %s\n", cmd, msg);
    fputs(usage, stderr);
    return 2;
}

int cli_parse_options(const char *cmd, const char *usage, const cli_option *opts, int flags, int argc,
                      char **argv)
{
    size_t n = 0;
    while (opts[n].type != CLI_OPT_END)
        n++;
    struct option *longopts = calloc(n + 2, sizeof *longopts);
    char *shortopts = malloc(3 * n + 8);
    if (!longopts || !shortopts) {
        free(longopts);
        free(shortopts);
        fprintf(stderr, "airpack %s: out of memory\n", cmd);
        return CLI_PARSE_ERROR;
    }
    size_t nl = 0, ns = 0;
    if (flags & CLI_PARSE_IN_ORDER)
        shortopts[ns++] = '+';
    shortopts[ns++] = ':';   /* a missing argument is ':', not '?' */
    for (size_t i = 0; i < n; i++) {
        if (opts[i].short_name) {
            shortopts[ns++] = (char)opts[i].short_name;
            if (takes_arg(&opts[i]))
                shortopts[ns++] = ':';
        }
        if (opts[i].long_name)
            longopts[nl++] = (struct option){opts[i].long_name, takes_arg(&opts[i]) ? required_argument : no_argument,
                                             NULL, LONG_VAL_BASE + (int)i};
    }
    shortopts[ns++] = HELP_VAL;
    shortopts[ns] = '\0';
    longopts[nl++] = (struct option){"help", no_argument, NULL, HELP_VAL};

    int result = CLI_PARSE_ERROR, c;
    ap_error err;
    ap_error_clear(&err);
    optind = 0;   /* 0: glibc starts afresh */
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const cli_option *o = NULL;
        if (c >= LONG_VAL_BASE)
            o = &opts[c - LONG_VAL_BASE];
        for (size_t i = 0; !o && c != HELP_VAL && i < n; i++)
            if (opts[i].short_name == c)
                o = &opts[i];
        if (c == HELP_VAL) {
            fputs(usage, stdout);
            result = CLI_PARSE_HELP;
            goto out;
        }
        if (!o) {   /* '?' or ':' */
            say_bad_option(cmd, opts, c, optind > 0 && optind <= argc ? argv[optind - 1] : NULL);
            fputs(usage, stderr);
            goto out;
        }
        if (apply(o, optarg, &err) < 0) {
            fprintf(stderr, "airpack %s: %s\n", cmd, err.msg);
            goto out;
        }
    }
    result = optind;
out:
    free(longopts);
    free(shortopts);
    return result;
}
