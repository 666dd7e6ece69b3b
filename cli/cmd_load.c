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

#include "../formats/minisign.h"
#include "../formats/stream.h"
#include "../verify/bundle_input.h"
#include "../load/loader.h"
#include "commands.h"
#include "keys.h"
#include "options.h"
#include "progress.h"

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
    if (rep->verify.sequence) {
        json_object_set_new(o, "channel", json_string(rep->verify.channel));
        json_object_set_new(o, "sequence", json_integer((json_int_t)rep->verify.sequence));
        json_object_set_new(o, "expires", rep->verify.expires[0] ? json_string(rep->verify.expires) : json_null());
    }
    if (rep->verify.warning[0])
        json_object_set_new(o, "warning", json_string(rep->verify.warning));
    if (rep->note[0])
        json_object_set_new(o, "note", json_string(rep->note));
    json_object_set_new(o, "seconds", json_real(rep->verify.seconds));
    if (status != 0)
        json_object_set_new(o, "error", json_string(err->msg));
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
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
}

int cmd_load(int argc, char **argv)
{
    trusted_keys keys = {0};
    bool as_json = false, quiet = false;
    const char *into = NULL, *spill_dir = NULL;
    unsigned window_log_max = 0;
    cli_strings images = {0};
    cli_registry_opts reg = {.tls_verify = true};
    load_options lopts = {0};
    ap_trust_policy policy = {0};
    ap_revoked_key *revoked = NULL;
    load_state_link *links = NULL;
    size_t n_links = 0;
    bool allow_rollback = false;
    const char *state_dir = NULL;
    load_state *state = NULL;
    const cli_option options[] = {
        OPT_TRUSTED_KEYS(&keys),
        OPT_STRING(0, "into", &into),
        OPT_STRING_LIST(0, "image", &images),
        OPT_JSON(&as_json),
        OPT_QUIET(&quiet),
        OPT_REGISTRY(&reg),
        OPT_STRING(0, "layer-compression", &lopts.layer_compression),
        OPT_WINDOW(&window_log_max),
        OPT_STRING(0, "spill-dir", &spill_dir),
        OPT_BOOL(0, "allow-expired", &policy.allow_expired),
        OPT_BOOL(0, "allow-rollback", &allow_rollback),
        OPT_STRING(0, "state-dir", &state_dir),
        OPT_END(),
    };
    ap_error err;
    ap_error_clear(&err);
    load_target *target = NULL;
    int status = 2;

    if (ap_minisign_init(&err) < 0)
        goto fail_run;
    int first = cli_parse_options("load", usage_text, options, CLI_PARSE_IN_ORDER, argc, argv);
    if (first < 0) {
        status = cli_parse_status(first);
        goto out;
    }
    bool explicit_keys = keys.n > 0;
    lopts.images = images.v;
    lopts.n_images = images.n;
    lopts.tls_verify = reg.tls_verify;
    lopts.authfile = reg.authfile;
    lopts.creds = reg.creds;
    if (!into) {
        status = cli_usage_error("load", usage_text, "say where to load with --into TARGET");
        goto out;
    }
    if (argc - first != 1) {
        status = cli_usage_error("load", usage_text, "give exactly one BUNDLE (or - for standard input)");
        goto out;
    }
    const char *path = argv[first];
    if (!explicit_keys && trusted_keys_add_defaults(&keys, "load", quiet || as_json, &err) < 0)
        goto fail_run;
    if (trust_policy_load_revocations(&policy, &revoked, &err) < 0 ||
        trust_successions_load(&links, &n_links, &err) < 0)
        goto fail_run;

    /* a SIGINT/SIGTERM stops the read, so the target is aborted cleanly */
    bundle_input in;
    if (bundle_input_open(&in, path, BUNDLE_INPUT_ALL_PARTS, &interrupted, &err) < 0) {
        status = err.code == AP_ERR_VERIFY ? 1 : 2;
        fprintf(stderr, "airpack load: %s\n", err.msg);
        if (status == 1)
            fprintf(stderr, "airpack load: %s: verification FAILED; nothing was loaded into %s\n", path, into);
        if (as_json) {
            ap_load_report empty = {0};
            print_json(status, into, &empty, &err);
        }
        goto out;
    }
    const char *name = in.name;
    uint64_t total = in.total;
    target = load_target_open(into, &lopts, &err);
    if (!target) {
        bundle_input_close(&in);
        fprintf(stderr, "airpack load: %s\n", err.msg);
        if (as_json) {
            ap_load_report empty = {0};
            print_json(2, into, &empty, &err);
        }
        goto out;
    }

    /* no rollback: the target's state, locked until the load ends (after the target's own lock) */
    char state_path[4096];
    int has_state = load_state_path(into, state_dir, state_path, sizeof state_path, &err);
    if (has_state < 0 || (has_state && !(state = load_state_open(state_path, into, !strncmp(into, "oci:", 4), true,
                                                                 &err)))) {
        bundle_input_close(&in);
        target->ops->abort(target);
        fprintf(stderr, "airpack load: %s\nairpack load: nothing was loaded into %s\n", err.msg, into);
        if (as_json) {
            ap_load_report empty = {0};
            print_json(2, into, &empty, &err);
        }
        goto out;
    }

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);

    progress_line pl;
    progress_init(&pl, "loading", total, quiet || as_json);
    /* a dense bundle's rebuild spills next to an oci:DIR target */
    char spill_buf[4096];
    if (!spill_dir && !strncmp(into, "oci:", 4)) {
        snprintf(spill_buf, sizeof spill_buf, "%s", into + 4);
        size_t sl = strlen(spill_buf);
        while (sl > 1 && spill_buf[sl - 1] == '/')
            spill_buf[--sl] = 0;
        char *slash = strrchr(spill_buf, '/');
        if (!slash)
            strcpy(spill_buf, ".");
        else if (slash == spill_buf)
            spill_buf[1] = 0;
        else
            *slash = 0;
        spill_dir = spill_buf;
    }
    ap_load_opts opts = {
        .keys = keys.keys,
        .n_keys = keys.n,
        .progress = progress_update,
        .progress_ctx = &pl,
        .spill_dir = spill_dir,
        .window_log_max = window_log_max,
        .policy = &policy,
        .state = state,
        .allow_rollback = allow_rollback,
        .successions = links,
        .n_successions = n_links,
    };
    ap_load_report rep;
    int r = ap_load_stream(in.read, in.read_ctx, name, target, &opts, &rep, &err);
    if (r < 0 && !rep.verified)
        bundle_input_explain(&in, &rep.verify, &err);
    if (r < 0 && !rep.verified && in.retry) {
        /* damaged parts found on the way (nothing was committed), fewer than the parity parts
         * rebuild: load again into a fresh target, rebuilding them */
        load_results_free(rep.results, rep.n_results);
        target->ops->close(target);
        target = NULL;
        ap_error retry_err;
        ap_error_clear(&retry_err);
        if (bundle_input_retry(&in, &retry_err) == 1 && (target = load_target_open(into, &lopts, &retry_err))) {
            ap_error_clear(&err);
            r = ap_load_stream(in.read, in.read_ctx, name, target, &opts, &rep, &err);
            if (r < 0 && !rep.verified)
                bundle_input_explain(&in, &rep.verify, &err);
        } else {
            memset(&rep, 0, sizeof rep);
            err = retry_err;
            r = -1;
        }
    }
    progress_done(&pl);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    size_t healed = bundle_input_healed(&in);
    char damage[4096] = "";
    if (r == 0 && healed && in.have_damage)
        ap_parts_damage_describe(in.base, &in.sidecar, &in.damage, damage, sizeof damage);
    bundle_input_close(&in);
    if (rep.verify.warning[0])
        fprintf(stderr, "airpack load: warning: %s: %s\n", name, rep.verify.warning);
    if (rep.note[0])
        fprintf(stderr, "airpack load: note: %s: %s\n", name, rep.note);
    if (damage[0])   /* even with -q: the copy needs mending */
        fprintf(stderr, "airpack load: note: %s: loaded through its parity parts, every rebuilt part checked "
                        "against the signed list; %s; run 'airpack repair %s' to mend the copy\n", name, damage, name);

    if (r == 0) {
        status = 0;
        if (!as_json)
            print_results(name, into, &rep);
    } else {
        bool bad_bundle = !rep.verified && (err.code == AP_ERR_VERIFY || err.code == AP_ERR_FORMAT ||
                                            err.code == AP_ERR_CRYPTO);
        status = bad_bundle ? 1 : 2;
        fprintf(stderr, "airpack load: %s\n", err.msg);
        if (bad_bundle)
            fprintf(stderr, "airpack load: %s: verification FAILED; nothing was loaded into %s\n", name, into);
        else if (err.code == AP_ERR_INTERRUPTED)
            fprintf(stderr, "airpack load: interrupted; nothing was loaded into %s\n", into);
        else if (!strstr(err.msg, "the images were loaded, but"))
            fprintf(stderr, "airpack load: loading into %s failed; nothing was loaded\n", into);
    }
    if (as_json)
        print_json(status, into, &rep, &err);
    load_results_free(rep.results, rep.n_results);
    goto out;

fail_run:
    fprintf(stderr, "airpack load: %s\n", err.msg);
    status = 2;
out:
    load_state_close(state);
    if (target)
        target->ops->close(target);
    trusted_keys_free(&keys);
    free(revoked);
    free(links);
    cli_strings_free(&images);
    return status;
}
