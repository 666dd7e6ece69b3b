/* cmd_verify.c: `airpack verify`: check a bundle's signature and every entry, in one pass.
 *
 *   airpack verify [-p PUBFILE]... [-P BASE64]... [--deep] [--json] [-q] BUNDLE|-
 *   airpack verify [-p PUBFILE]... [-P BASE64]... --part NAME.NNN
 *
 * Exit status: 0 verified, 1 verification failed, 2 could not run (usage, unreadable
 * file, no trusted key). Without -p/-P the trusted keys are those of the trusted-keys
 * directory and ./airpack.pub when it exists; which were used is said on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/formats.h"
#include "../load/load.h"
#include "../verify/verify.h"
#include "commands.h"
#include "keys.h"
#include "options.h"
#include "progress.h"
#include "report.h"
#include "status.h"
#include "verify_part.h"

static const char usage_text[] =
    "usage: airpack verify [-p PUBFILE]... [-P BASE64]... [--deep] [--json] [-q] BUNDLE|-\n"
    "       airpack verify [-p PUBFILE]... [-P BASE64]... --part NAME.NNN\n"
    "\n"
    "Reads BUNDLE (or standard input for -) once, front to back, and checks that its\n"
    "index is signed by a trusted key and that every entry matches the index.\n"
    "A split bundle (pack --split) is read from its parts in order: give NAME.000, or NAME.\n"
    "\n"
    "      --part NAME.NNN   check only this part against the signed NAME.parts, before the\n"
    "                        other parts arrive (a part other than .000 given as BUNDLE is\n"
    "                        checked this way too)\n"
    "  -p, --pubkey FILE     trusted minisign public key file (repeatable)\n"
    "  -P, --pubkey-base64 K trusted public key as its base64 line (repeatable)\n"
    "      --deep            also decompress every layer and check its diff_id, and check\n"
    "                        manifests, configs, index.json and manifest.json\n"
    "      --window N        --deep on a dense bundle: refuse one that needs a zstd window over\n"
    "                        2^N bytes of memory (default 27 = 128 MiB)\n"
    "      --spill-dir DIR   --deep on a dense bundle: where the rebuild keeps the decompressed\n"
    "                        chunks (default $TMPDIR or /var/tmp)\n"
    "      --allow-expired   accept a bundle past its expiry (with a warning)\n"
    "      --into TARGET     also check that loading into TARGET would not be a rollback (its\n"
    "                        recorded sequences: in an oci:DIR store, else in --state-dir)\n"
    "      --state-dir DIR   also check against the sequences recorded in DIR (every target\n"
    "                        there, unless --into names one)\n"
    "      --json            print one JSON report object on stdout\n"
    "  -q, --quiet           no progress line\n"
    "\n"
    "Without -p or -P: the keys in the trusted-keys directory ($AIRPACK_TRUSTED_KEYS,\n"
    "else $AIRPACK_CONFIG_DIR/trusted.d, else ~/.airpack/trusted.d) and ./airpack.pub.\n"
    "Exit status: 0 verified, 1 verification failed, 2 could not run.\n";

/* Collects what the report prints about the images, once the signed index is known. */
typedef struct {
    const char *state_dir, *into;   /* verify --state-dir / --into: the rollback check */
    char note[640];
    json_t *images;
    char *delta;            /* delta bundle: what it expects the target to hold */
} report_ctx;

/* Delta: the layers this image expects the target to hold (diff_id and blob). */
static json_t *expected_layers_json(const ap_index_image *im)
{
    json_t *a = json_array();
    for (size_t k = 0; a && k < im->n_layers; k++)
        if (im->layers[k].expected)
            json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "diff_id", im->layers[k].diff_id, "digest",
                                               im->layers[k].digest, "size", (json_int_t)im->layers[k].size));
    return a;
}

/* The rollback check load would make, without loading: against the target's state
 * (--into), else every state file in --state-dir. */
static int check_state_of(report_ctx *r, const load_state_signer *signer, const ap_bundle_index *idx, ap_error *err);

static int check_state(report_ctx *r, const ap_bundle_index *idx, const ap_sig_info *sig, ap_error *err)
{
    load_state_link *links = NULL;
    size_t n_links = 0;
    if (trust_successions_load(&links, &n_links, err) < 0)
        return -1;
    load_state_signer signer = {sig->key_id, links, n_links};
    int rc = check_state_of(r, &signer, idx, err);
    free(links);
    return rc;
}

static int check_state_of(report_ctx *r, const load_state_signer *signer, const ap_bundle_index *idx, ap_error *err)
{
    if (!r->into)
        return load_state_check_dir(r->state_dir, signer, idx, false, r->note, sizeof r->note, err);
    char path[4096];
    int has = load_state_path(r->into, r->state_dir, path, sizeof path, err);
    if (has <= 0)
        return has;
    load_state *s = load_state_open(path, r->into, !strncmp(r->into, "oci:", 4), false, err);
    if (!s)
        return -1;
    int rc = load_state_check(s, signer, idx, false, r->note, sizeof r->note, err);
    load_state_close(s);
    return rc;
}

static int on_index(void *ctx, const ap_bundle_index *idx, const ap_sig_info *sig, ap_error *err)
{
    report_ctx *r = ctx;
    if ((r->state_dir || r->into) && check_state(r, idx, sig, err) < 0)
        return -1;
    r->delta = delta_describe(idx);
    for (size_t i = 0; i < idx->n_images; i++) {
        json_t *names = json_array();
        for (size_t k = 0; k < idx->images[i].n_names; k++)
            json_array_append_new(names, json_string(idx->images[i].names[k]));
        json_t *o = json_object();
        if (!names || !o || json_object_set_new(o, "names", names) < 0 ||
            json_object_set_new(o, "id", json_string(idx->images[i].config.digest)) < 0 ||
            json_object_set_new(o, "expected_layers", expected_layers_json(&idx->images[i])) < 0 ||
            json_array_append_new(r->images, o) < 0)
            return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static void print_json(const char *bundle, int verdict_ok, const ap_verify_report *rep, json_t *images,
                       const ap_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "verdict", json_string(verdict_ok ? "verified" : "failed"));
    json_object_set_new(o, "bundle", json_string(bundle));
    json_object_set_new(o, "key_id", rep->sig.key_id[0] ? json_string(rep->sig.key_id) : json_null());
    json_t *tc = rep->sig.key_id[0] ? json_string(rep->sig.trusted_comment) : NULL;
    json_object_set_new(o, "trusted_comment", tc ? tc : json_null());
    json_object_set(o, "images", images);
    json_object_set_new(o, "entries_checked", json_integer((json_int_t)rep->entries_checked));
    json_put_verified(o, rep);
    json_object_set_new(o, "bytes", json_integer((json_int_t)rep->bytes));
    json_object_set_new(o, "seconds", json_real(rep->seconds));
    if (!verdict_ok)
        json_object_set_new(o, "error", json_string(err->msg));
    json_print_line(o);
}

/* The command line. */
typedef struct {
    trusted_keys keys;
    bool deep, as_json, quiet, one_part;
    const char *spill_dir, *state_dir, *into;
    unsigned window_log_max;
    ap_trust_policy policy;
} verify_args;

/* A retry through the parity parts: forget what the first reading collected. */
static void report_reset(void *ctx)
{
    report_ctx *r = ctx;
    json_decref(r->images);
    free(r->delta);
    *r = (report_ctx){.images = json_array(), .state_dir = r->state_dir, .into = r->into};
}

/* Says why the bundle did not verify; returns the exit status. */
static int say_failure(const char *name, const ap_error *err, bool read_failed)
{
    int status = exit_status(err);
    fprintf(stderr, "airpack verify: %s\n", err->msg);
    if (status == EXIT_VERIFY_FAILED)
        fprintf(stderr, "airpack verify: %s: verification FAILED\n", name);
    else if (read_failed)
        fprintf(stderr, "airpack verify: %s: the bundle could not be read (a read error, not a verification "
                        "failure)\n", name);
    return status;
}

/* Runs the verifier over the opened input; returns what bundle_verify returns. */
typedef struct {
    verify_args *a;
    report_ctx *rc;
    ap_verify_report rep;
    char damage[4096];
} verify_run;

static int run_verify(bundle_input *in, void *ctx, ap_error *err)
{
    verify_run *vr = ctx;
    verify_args *a = vr->a;
    progress_line pl;
    progress_init(&pl, "verifying", in->total, a->quiet);
    ap_verify_opts opts = {
        .keys = a->keys.keys,
        .n_keys = a->keys.n,
        .deep = a->deep,
        .spill_dir = a->spill_dir,
        .window_log_max = a->window_log_max,
        .progress = progress_update,
        .progress_ctx = &pl,
        .policy = &a->policy,
    };
    ap_verify_sink sink = {.on_index = on_index};
    int r = bundle_verify(in, &opts, &sink, vr->rc, report_reset, &vr->rep, vr->damage, sizeof vr->damage, err);
    progress_done(&pl);
    return r;
}

/* Verifies the bundle at path (or - for standard input) in one pass; returns the exit status. */
static int verify_bundle(const char *path, verify_args *a)
{
    ap_error err;
    ap_error_clear(&err);
    report_ctx rc = {.images = json_array(), .state_dir = a->state_dir, .into = a->into};
    verify_run vr;
    memset(&vr, 0, sizeof vr);
    vr.a = a;
    vr.rc = &rc;
    const ap_verify_report *rep = &vr.rep;
    const char *name;
    bool read_failed;
    int r = run_on_bundle(path, NULL, run_verify, &vr, &name, &read_failed, &err);
    if (rep->warning[0])
        fprintf(stderr, "airpack verify: warning: %s: %s\n", name, rep->warning);
    if (rc.note[0])
        fprintf(stderr, "airpack verify: note: %s: %s\n", name, rc.note);
    int status = r == 0 ? 0 : r == 1 ? exit_status(&err) : say_failure(name, &err, read_failed);
    if (r == 1) {
        fprintf(stderr, "airpack verify: %s\n", vr.damage);
        fprintf(stderr, "airpack verify: %s: the bundle verified (%zu image%s, signed by key ID %s) through its parity "
                        "parts, but its parts are damaged: run 'airpack repair %s'\n",
                name, rep->n_images, rep->n_images == 1 ? "" : "s", rep->sig.key_id, name);
    } else if (r == 0 && !a->as_json) {
        printf("%s: verified: %zu image%s, %zu entries, %llu bytes, signed by key ID %s (trusted comment: %s)\n",
               name, rep->n_images, rep->n_images == 1 ? "" : "s", rep->entries_checked, (unsigned long long)rep->bytes,
               rep->sig.key_id, rep->sig.trusted_comment);
        if (rc.delta)
            printf("%s", rc.delta);
    }
    if (a->as_json)
        print_json(name, r == 0, rep, rc.images, &err);
    json_decref(rc.images);
    free(rc.delta);
    return status;
}

int cmd_verify(int argc, char **argv)
{
    verify_args a;
    memset(&a, 0, sizeof a);
    ap_revoked_key *revoked = NULL;
    const cli_option options[] = {
        OPT_TRUSTED_KEYS(&a.keys),
        OPT_BOOL(0, "deep", &a.deep),
        OPT_BOOL(0, "part", &a.one_part),
        OPT_WINDOW(&a.window_log_max),
        OPT_STRING(0, "spill-dir", &a.spill_dir),
        OPT_BOOL(0, "allow-expired", &a.policy.allow_expired),
        OPT_STRING(0, "state-dir", &a.state_dir),
        OPT_STRING(0, "into", &a.into),
        OPT_JSON(&a.as_json),
        OPT_QUIET(&a.quiet),
        OPT_END(),
    };
    ap_error err;
    ap_error_clear(&err);
    int status = 2;
    if (cli_crypto_init("verify"))
        return 2;
    int first = cli_parse_options("verify", usage_text, options, CLI_PARSE_IN_ORDER, argc, argv);
    if (first < 0)
        status = cli_parse_status(first);
    else if (argc - first != 1)
        status = cli_usage_error("verify", usage_text, "give exactly one BUNDLE (or - for standard input)");
    else if (trusted_keys_prepare(&a.keys, "verify", a.quiet, &a.policy, &revoked, &err) < 0)
        fprintf(stderr, "airpack verify: %s\n", err.msg);
    else if (a.one_part || bundle_input_is_later_part(argv[first]))
        status = verify_one_part(argv[first], &a.keys, a.as_json);
    else
        status = verify_bundle(argv[first], &a);
    trusted_keys_free(&a.keys);
    free(revoked);
    return status;
}
