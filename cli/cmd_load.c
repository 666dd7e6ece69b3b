/* cmd_load.c: `airpack load`: verify a bundle and load its images into a target, in one pass.
 *
 *   airpack load [-p PUB]... [-P BASE64]... --into TARGET [--image NAME]... [--json] [-q]
 *                [--tls-verify=false] [--authfile F] [--creds USER:PASS]
 *                [--layer-compression none|gzip] BUNDLE|-
 *
 * The bundle is read once; the target gets the bytes as they are verified and
 * commits only after the whole bundle verified. Exit status: 0 loaded,
 * 1 verification failed (nothing was loaded), 2 the target failed or usage. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
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

static const char usage_text[] =
    "usage: airpack load [-p PUBFILE]... [-P BASE64]... --into TARGET [--image NAME]...\n"
    "                    [--json] [-q] [--tls-verify=false] [--authfile FILE]\n"
    "                    [--creds USER:PASS] [--layer-compression none|gzip] BUNDLE|-\n"
    "\n"
    "Reads BUNDLE (or standard input for -; for a split bundle its first part NAME.000,\n"
    "or NAME) once, verifies it exactly as 'airpack verify'\n"
    "does, and loads its images into TARGET from the bytes it verified. Nothing becomes\n"
    "visible in TARGET unless the whole bundle verified.\n"
    "\n"
    "Targets:\n"
    "  oci:DIR                        an OCI image layout directory (created if absent)\n"
    "  docker-daemon:[SOCKET]         a Docker engine (default: $DOCKER_HOST, else\n"
    "                                 /var/run/docker.sock)\n"
    "  docker://HOST[:PORT][/PREFIX]  a registry\n"
    "  containerd:[NAMESPACE]         containerd\n"
    "  containers-storage:            podman's local storage\n"
    "  docker-archive:FILE            a 'docker save' archive for docker/podman load\n"
    "                                 (also an OCI layout, as Docker 25 writes it)\n"
    "  oci-archive:FILE               an OCI image layout as one tar (skopeo, ctr import)\n"
    "\n"
    "  -p, --pubkey FILE     trusted minisign public key file (repeatable)\n"
    "  -P, --pubkey-base64 K trusted public key as its base64 line (repeatable)\n"
    "      --into TARGET     where to load the images (required)\n"
    "      --image NAME      load only this image (repeatable; full or short name, or ID)\n"
    "      --json            print one JSON report object on stdout\n"
    "  -q, --quiet           no progress line\n"
    "      --tls-verify=false  registry: do not verify TLS certificates\n"
    "      --authfile FILE   registry: credentials file (Docker config.json format)\n"
    "      --creds USER:PASS registry: credentials\n"
    "      --layer-compression none|gzip  docker-archive:/oci-archive: layers as plain\n"
    "                        tars (none, the default) or gzip\n"
    "      --window N        dense bundles: refuse one that needs a zstd window over 2^N bytes\n"
    "                        of memory (default 27 = 128 MiB)\n"
    "      --allow-expired   load a bundle past its expiry (with a warning)\n"
    "      --allow-rollback  load a bundle older (lower sequence) than one this store loaded\n"
    "      --state-dir DIR   where the sequences loaded into targets other than oci:DIR are\n"
    "                        recorded (default /var/lib/airpack as root, else\n"
    "                        $XDG_STATE_HOME/airpack or ~/.local/state/airpack)\n"
    "      --spill-dir DIR   dense bundles: where the rebuild keeps the decompressed chunks\n"
    "                        (as much disk as the bundle's distinct chunk bytes; default: next to\n"
    "                        an oci:DIR target, else $TMPDIR or /var/tmp)\n"
    "\n"
    "Without -p or -P: the keys in the trusted-keys directory ($AIRPACK_TRUSTED_KEYS,\n"
    "else $AIRPACK_CONFIG_DIR/trusted.d, else ~/.airpack/trusted.d) and ./airpack.pub.\n"
    "Exit status: 0 loaded, 1 verification failed (nothing loaded), 2 target failed or usage.\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char *verdict_of(int status)
{
    return status == 0 ? "loaded" : status == 1 ? "failed" : "target failed";
}

static void print_json(int status, const char *target, const ap_load_report *rep, const ap_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "verdict", json_string(verdict_of(status)));
    json_object_set_new(o, "target", json_string(target));
    json_object_set_new(o, "key_id", rep->verify.sig.key_id[0] ? json_string(rep->verify.sig.key_id)
                                                                 : json_null());
    json_t *images = json_array();
    for (size_t i = 0; i < rep->n_results; i++) {
        const load_result *r = &rep->results[i];
        json_t *im = json_object();
        json_object_set_new(im, "name", r->name ? json_string(r->name) : json_null());
        json_object_set_new(im, "id", json_string(r->id));
        json_object_set_new(im, "manifest", r->manifest[0] ? json_string(r->manifest) : json_null());
        json_object_set_new(im, "new", json_boolean(r->is_new));
        json_array_append_new(images, im);
    }
    json_object_set_new(o, "images", images);
    json_object_set_new(o, "bytes", json_integer((json_int_t)rep->verify.bytes));
    json_put_verified(o, &rep->verify);
    if (rep->note[0])
        json_object_set_new(o, "note", json_string(rep->note));
    json_object_set_new(o, "seconds", json_real(rep->verify.seconds));
    if (status != 0)
        json_object_set_new(o, "error", json_string(err->msg));
    json_print_line(o);
}

static void print_results(const char *name, const char *target, const ap_load_report *rep)
{
    size_t fresh = 0;
    for (size_t i = 0; i < rep->n_results; i++)
        fresh += rep->results[i].is_new;
    if (fresh == 0)
        printf("%s: verified; every image was already present in %s, nothing changed\n", name, target);
    else
        printf("%s: verified and loaded into %s (key ID %s, %llu bytes, %.1fs)\n", name, target,
               rep->verify.sig.key_id, (unsigned long long)rep->verify.bytes, rep->verify.seconds);
    for (size_t i = 0; i < rep->n_results; i++) {
        const load_result *r = &rep->results[i];
        printf("  %s  %s  manifest %s  %s\n", r->name ? r->name : "(untagged)", r->id,
               r->manifest[0] ? r->manifest : "-", r->is_new ? "new" : "already present");
    }
    /* signatures and other referrers: kept by targets that keep manifests */
    bool keeps = !strncmp(target, "oci:", 4) || !strncmp(target, "docker://", 9);
    if (rep->n_referrers)
        printf(keeps ? "  %zu signature(s), attestation(s) or SBOM(s) loaded with their images, under their tags\n"
                     : "  %zu signature(s), attestation(s) or SBOM(s) not loaded: %s keeps no manifests to sign "
                       "(load into oci: or docker:// to keep them)\n",
               rep->n_referrers, target);
}

/* The command line. */
typedef struct {
    trusted_keys keys;
    bool as_json, quiet, allow_rollback;
    const char *into, *spill_dir, *state_dir;
    unsigned window_log_max;
    cli_strings images;
    cli_registry_opts reg;
    load_options lopts;
    ap_trust_policy policy;
    load_state_link *links;     /* the trusted successions, for the rollback check */
    size_t n_links;
} load_args;

/* Says why nothing was loaded; returns the exit status. */
static int say_failure(const char *name, const char *into, const ap_error *err, bool read_failed)
{
    int status = exit_status(err);
    fprintf(stderr, "airpack load: %s\n", err->msg);
    if (status == EXIT_VERIFY_FAILED)
        fprintf(stderr, "airpack load: %s: verification FAILED; nothing was loaded into %s\n", name, into);
    else if (read_failed)
        fprintf(stderr, "airpack load: %s: the bundle could not be read (a read error, not a verification failure); "
                        "nothing was loaded into %s\n", name, into);
    else if (err->code == AP_ERR_INTERRUPTED)
        fprintf(stderr, "airpack load: interrupted; nothing was loaded into %s\n", into);
    else if (!strstr(err->msg, "the images were loaded, but"))
        fprintf(stderr, "airpack load: loading into %s failed; nothing was loaded\n", into);
    return status;
}

/* Loads from the opened input, with a progress line; SIGINT/SIGTERM stop the read, so the
 * target is aborted cleanly. */
typedef struct {
    load_args *a;
    ap_load_report rep;
    char damage[4096];
} load_run;

static int run_load(bundle_input *in, void *ctx, ap_error *err)
{
    load_run *lr = ctx;
    load_args *a = lr->a;
    ap_load_report *rep = &lr->rep;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);
    progress_line pl;
    progress_init(&pl, "loading", in->total, a->quiet || a->as_json);
    ap_load_request req = {
        .into = a->into,
        .target_opts = &a->lopts,
        .state_dir = a->state_dir,
        .opts = {
            .keys = a->keys.keys,
            .n_keys = a->keys.n,
            .progress = progress_update,
            .progress_ctx = &pl,
            .spill_dir = a->spill_dir,
            .window_log_max = a->window_log_max,
            .policy = &a->policy,
            .allow_rollback = a->allow_rollback,
            .successions = a->links,
            .n_successions = a->n_links,
        },
    };
    int r = ap_load_input(in, &req, rep, lr->damage, sizeof lr->damage, err);
    progress_done(&pl);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return r;
}

/* Verifies the bundle at path (or - for standard input) and loads it; returns the exit status. */
static int load_bundle(const char *path, load_args *a)
{
    ap_error err;
    ap_error_clear(&err);
    load_run lr;
    memset(&lr, 0, sizeof lr);
    lr.a = a;
    const ap_load_report *rep = &lr.rep;
    const char *name;
    bool read_failed;
    int r = run_on_bundle(path, &interrupted, run_load, &lr, &name, &read_failed, &err);
    if (rep->verify.warning[0])
        fprintf(stderr, "airpack load: warning: %s: %s\n", name, rep->verify.warning);
    if (rep->note[0])
        fprintf(stderr, "airpack load: note: %s: %s\n", name, rep->note);
    if (lr.damage[0])   /* even with -q: the copy needs mending */
        fprintf(stderr, "airpack load: note: %s: loaded through its parity parts, every rebuilt part checked "
                        "against the signed list; %s; run 'airpack repair %s' to mend the copy\n", name, lr.damage,
                name);
    int status = r == 0 ? 0 : say_failure(name, a->into, &err, read_failed);
    if (r == 0 && !a->as_json)
        print_results(name, a->into, rep);
    if (a->as_json)
        print_json(status, a->into, rep, &err);
    load_results_free(lr.rep.results, lr.rep.n_results);
    return status;
}

int cmd_load(int argc, char **argv)
{
    load_args a;
    memset(&a, 0, sizeof a);
    a.reg.tls_verify = true;
    ap_revoked_key *revoked = NULL;
    const cli_option options[] = {
        OPT_TRUSTED_KEYS(&a.keys),
        OPT_STRING(0, "into", &a.into),
        OPT_STRING_LIST(0, "image", &a.images),
        OPT_JSON(&a.as_json),
        OPT_QUIET(&a.quiet),
        OPT_REGISTRY(&a.reg),
        OPT_STRING(0, "layer-compression", &a.lopts.layer_compression),
        OPT_WINDOW(&a.window_log_max),
        OPT_STRING(0, "spill-dir", &a.spill_dir),
        OPT_BOOL(0, "allow-expired", &a.policy.allow_expired),
        OPT_BOOL(0, "allow-rollback", &a.allow_rollback),
        OPT_STRING(0, "state-dir", &a.state_dir),
        OPT_END(),
    };
    ap_error err;
    ap_error_clear(&err);
    int status = 2;
    if (cli_crypto_init("load"))
        return 2;
    int first = cli_parse_options("load", usage_text, options, CLI_PARSE_IN_ORDER, argc, argv);
    a.lopts.images = a.images.v;
    a.lopts.n_images = a.images.n;
    a.lopts.tls_verify = a.reg.tls_verify;
    a.lopts.authfile = a.reg.authfile;
    a.lopts.creds = a.reg.creds;
    if (first < 0)
        status = cli_parse_status(first);
    else if (!a.into)
        status = cli_usage_error("load", usage_text, "say where to load with --into TARGET");
    else if (argc - first != 1)
        status = cli_usage_error("load", usage_text, "give exactly one BUNDLE (or - for standard input)");
    else if (trusted_keys_prepare(&a.keys, "load", a.quiet || a.as_json, &a.policy, &revoked, &err) < 0 ||
             trust_successions_load(&a.links, &a.n_links, &err) < 0)
        fprintf(stderr, "airpack load: %s\n", err.msg);
    else
        status = load_bundle(argv[first], &a);
    trusted_keys_free(&a.keys);
    free(revoked);
    free(a.links);
    cli_strings_free(&a.images);
    return status;
}
