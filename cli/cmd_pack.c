/* cmd_pack.c: `airpack pack`: many images into one signed bundle. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../formats/formats.h"
#include "../packer/packer.h"
#include "commands.h"
#include "keys.h"
#include "options.h"
#include "progress.h"
#include "status.h"

static const char usage_text[] =
    "usage: airpack pack -o BUNDLE [options] INPUT...\n"
    "\n"
    "Packs the images of every INPUT into one bundle: each layer stored once, compressed, signed.\n"
    "INPUT is a docker save / podman save / skopeo docker-archive file, an OCI archive (each may be\n"
    "compressed whole with gzip, zstd or xz), or oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE,\n"
    "docker://HOST/REPO[:TAG|@DIGEST] (a registry) or docker-daemon:NAME[:TAG] (the local Docker engine).\n"
    "\n"
    "  -o, --output FILE        the bundle to write (written under a temporary name, renamed when complete)\n"
    "  -s, --secret-key FILE    signing key (default $AIRPACK_CONFIG_DIR/airpack.key or ~/.airpack/airpack.key)\n"
    "      --password-file FILE read the key's password from FILE (or set AIRPACK_PASSWORD)\n"
    "      --unsigned           write an unsigned bundle (verify and load will refuse it)\n"
    "  -c, --compression ALG    zstd (default), gzip (for Docker < 23 on the far side) or none\n"
    "  -l, --level N            compression level (zstd default 3, gzip default 6)\n"
    "  -j, --threads N          compression threads (default: all cores; --dense: segments compressed\n"
    "                           at once, default 1, each with 2^window + 80 MiB of memory)\n"
    "      --dense              store content repeated across layers once (content-defined chunks,\n"
    "                           long-window zstd): much smaller for rebuilt images; plain docker load\n"
    "                           cannot read it (use airpack load); --level defaults to 12 here;\n"
    "                           loaders write each layer as its plain tar, or with --compression zstd\n"
    "                           remake it as zstd level 1 (smaller OCI/registry stores, but only with\n"
    "                           a libzstd that compresses as the packer's did)\n"
    "      --window N           --dense: zstd window 2^N bytes (default 27 = 128 MiB), which a loader\n"
    "                           needs as memory; loaders refuse more than their own --window\n"
    "      --chunk-size KIB     --dense: average chunk size, a power of two (default 32)\n"
    "  -i, --image NAME         pack only this image (name or ID; repeatable)\n"
    "      --on-conflict WHICH  when two inputs give one name to different images: error (default),\n"
    "                           first or last input wins\n"
    "      --images-from FILE   more inputs, one a line (# starts a comment)\n"
    "      --platform OS/ARCH[/VARIANT]  which image of a multi-platform one (default: this machine's)\n"
    "      --all-platforms      every platform of a multi-platform image (docker's manifest.json names\n"
    "                           only the default platform's)\n"
    "      --no-referrers       leave cosign signatures, attestations and SBOMs (sha256-<digest>.sig, .att,\n"
    "                           .sbom tags) behind; by default they travel with their images\n"
    "      --tls-verify=false   do not verify registry certificates (and allow plain http)\n"
    "      --authfile FILE      registry credentials (Docker config format)\n"
    "      --creds USER:PASS    registry credentials\n"
    "      --have FILE          delta: leave out every layer the far side holds, as listed by\n"
    "                           'airpack inventory' there (FILE.minisig is checked when -p is given)\n"
    "      --since OLD-BUNDLE   delta: leave out every layer OLD-BUNDLE carried (reads only its index)\n"
    "  -p, --public-key FILE    trusted key for --have / --since signatures (repeatable)\n"
    "      --split SIZE         write parts BUNDLE.000, BUNDLE.001, ... of SIZE bytes (K, M, G: powers of 1024;\n"
    "                           at least 1M; 4095M for FAT32, 4480M for a DVD) and the signed list BUNDLE.parts\n"
    "      --expires WHEN       the bundle expires after a duration (30d, 12h, 2w, 90s) or at a date\n"
    "                           (2027-01-31 or 2027-01-31T00:00:00Z, UTC); verify and load refuse it then\n"
    "      --sequence N         its place in the channel's sequence (default: the creation time in seconds);\n"
    "                           load refuses a lower sequence than one it loaded (no rollback)\n"
    "      --channel NAME       the stream the sequence counts in (default 'default'; a-z 0-9 . _ -)\n"
    "      --parity N           with --split: also N parity parts BUNDLE.p00 .. of SIZE bytes (Reed-Solomon),\n"
    "                           so that any N lost or damaged parts can be rebuilt (airpack repair, or load\n"
    "                           reads through them); one per disc or stick of a set is a good start\n"
    "  -q, --quiet              no progress line, no summary\n"
    "\n"
    "SOURCE_DATE_EPOCH sets the timestamps, so the same inputs and key give the same bytes.\n";

static char temp_path[4096];

static void on_temp(const char *path)
{
    snprintf(temp_path, sizeof temp_path, "%s", path);
}

static void on_signal(int sig)
{
    if (temp_path[0]) {
        unlink(temp_path);
        split_output_remove_temp_signal_safe(temp_path);   /* --split: a directory of parts */
    }
    static const char msg[] = "\nairpack pack: interrupted; no bundle was written\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(128 + sig);
}

static void set_total(void *ctx, uint64_t total)
{
    ((progress_line *)ctx)->total = total;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static bool valid_platform(const char *p)
{
    int slashes = 0;
    size_t seg = 0;
    for (const char *c = p; *c; c++) {
        if (*c == '/') {
            if (seg == 0)
                return false;
            slashes++;
            seg = 0;
            continue;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.'))
            return false;
        seg++;
    }
    return seg > 0 && (slashes == 1 || slashes == 2) && strlen(p) < 100;
}

static int opt_codec(void *v, const char *arg, ap_error *err)
{
    pack_request *req = v;
    req->codec_given = true;
    if (ap_codec_parse(arg, &req->o.codec, err) < 0 || req->o.codec == AP_CODEC_XZ)
        return ap_fail(err, AP_ERR_USAGE, "--compression takes zstd, gzip or none, not '%s'", arg);
    return 0;
}

static int opt_level(void *v, const char *arg, ap_error *err)
{
    long n;
    if (parse_int(arg, 1, 22, &n) < 0)
        return ap_fail(err, AP_ERR_USAGE, "--level takes a number from 1 to 22 (gzip: 1 to 9)");
    *(int *)v = (int)n;
    return 0;
}

static int opt_threads(void *v, const char *arg, ap_error *err)
{
    pack_request *req = v;
    long n;
    if (parse_int(arg, 1, 256, &n) < 0)
        return ap_fail(err, AP_ERR_USAGE, "-j takes a number of threads from 1 to 256");
    req->o.threads = (int)n;
    req->threads_given = true;
    return 0;
}

static int opt_on_conflict(void *v, const char *arg, ap_error *err)
{
    pack_conflict *c = v;
    if (!strcmp(arg, "error"))
        *c = PACK_CONFLICT_ERROR;
    else if (!strcmp(arg, "first"))
        *c = PACK_CONFLICT_FIRST;
    else if (!strcmp(arg, "last"))
        *c = PACK_CONFLICT_LAST;
    else
        return ap_fail(err, AP_ERR_USAGE, "--on-conflict takes error, first or last");
    return 0;
}

static int opt_chunk_size(void *v, const char *arg, ap_error *err)
{
    long n;
    if (parse_int(arg, 1, 1024, &n) < 0 || (n & (n - 1)))
        return ap_fail(err, AP_ERR_USAGE, "--chunk-size takes a power of two from 1 to 1024 (KiB)");
    *(size_t *)v = (size_t)n << 10;
    return 0;
}

static int opt_platform(void *v, const char *arg, ap_error *err)
{
    if (!valid_platform(arg))
        return ap_fail(err, AP_ERR_USAGE, "--platform takes OS/ARCH[/VARIANT] (linux/arm64), not '%s'", arg);
    *(const char **)v = arg;
    return 0;
}

static int opt_sequence(void *v, const char *arg, ap_error *err)
{
    char *end;
    errno = 0;
    unsigned long long sq = strtoull(arg, &end, 10);
    if (errno || *end || arg[0] < '1' || arg[0] > '9' || sq > (unsigned long long)INT64_MAX)
        return ap_fail(err, AP_ERR_USAGE, "--sequence takes a whole number from 1 to 2^63-1, not '%s'", arg);
    *(uint64_t *)v = sq;
    return 0;
}

static int opt_channel(void *v, const char *arg, ap_error *err)
{
    if (!ap_channel_valid(arg))
        return ap_fail(err, AP_ERR_USAGE, "--channel '%s': 1-%d of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
                       arg, AP_CHANNEL_MAX);
    *(const char **)v = arg;
    return 0;
}

static int opt_parity(void *v, const char *arg, ap_error *err)
{
    char *end;
    errno = 0;
    unsigned long np = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || np < 1 || np > AP_PARITY_MAX)
        return ap_fail(err, AP_ERR_USAGE, "--parity takes a number of parity parts from 1 to %d, not '%s'",
                       AP_PARITY_MAX, arg);
    *(size_t *)v = (size_t)np;
    return 0;
}

static int opt_split(void *v, const char *arg, ap_error *err)
{
    uint64_t *size = v;
    if (ap_parse_split_size(arg, size, "--split", err) < 0)
        return -1;
    if (*size == (4ull << 30))
        fprintf(stderr, "airpack pack: note: FAT32 holds files up to 4G minus one byte; "
                        "use --split 4095M for FAT32 sticks\n");
    return 0;
}

/* The summary after a bundle was written. */
static void print_summary(const pack_request *req, const pack_report *r, const ap_seckey *key)
{
    const pack_options *o = &req->o;
    const ap_have_list *have = &req->have;
    char stored[32], refd[32], bundle[32];
    format_bytes(stored, sizeof stored, (double)r->uncompressed_bytes);
    format_bytes(refd, sizeof refd, (double)r->referenced_bytes);
    format_bytes(bundle, sizeof bundle, (double)r->bundle_bytes);
    printf("%s: %zu images, %zu layers stored once (%zu as the images use them), %s compressed%s\n", o->output,
           r->n_images, r->n_layers_stored, r->n_layers_referenced, o->dense ? "dense, zstd" : ap_codec_name(o->codec),
           o->dense && o->codec == AP_CODEC_NONE ? "; a load writes the layers as plain tars" : "");
    if (o->dense) {
        char uniq[32];
        format_bytes(uniq, sizeof uniq, (double)r->dense_unique_bytes);
        printf("  dense: %s in %llu distinct chunks, %u segments; a load needs a 2^%u-byte window and "
               "%s of temporary disk\n", uniq, (unsigned long long)r->dense_chunks, r->dense_segments,
               o->dense_window_log ? o->dense_window_log : 27, uniq);
    }
    printf("  layers %s uncompressed as the images use them, %s distinct; bundle %s (%.0f%% of the first)\n", refd,
           stored, bundle, r->referenced_bytes ? 100.0 * (double)r->bundle_bytes / (double)r->referenced_bytes : 0.0);
    if (r->n_faithful)
        printf("  %zu image(s) carried as their source signed them: manifests, configs and layer blobs "
               "byte for byte (digests kept)\n", r->n_faithful);
    if (r->n_rewritten)
        printf("  %zu image(s) recompressed (%s): their manifest digests change (the index records each "
               "source digest)\n", r->n_rewritten, o->dense ? "--dense" : req->codec_given ? "-c" : "their input");
    if (r->n_referrers)
        printf("  %zu signature(s), attestation(s) or SBOM(s) carried with their images\n", r->n_referrers);
    if (r->n_referrers_skipped)
        printf("  %zu manifest(s) that refer to another (OCI 1.1 subject) left out of the OCI layout input: airpack "
               "does not carry those yet\n", r->n_referrers_skipped);
    if (r->n_indexes_carried)
        printf("  %zu multi-platform image index(es) carried byte for byte (digests kept)\n", r->n_indexes_carried);
    if (r->n_indexes_new)
        printf("  %zu image index(es) not carried as the source has them: only some of their platforms "
               "are packed (--all-platforms takes all), so their names get a new index or one platform's "
               "manifest: a new digest\n", r->n_indexes_new);
    if (r->n_attestations_skipped)
        printf("  %zu attestation manifest(s) left out (airpack does not carry them yet)\n",
               r->n_attestations_skipped);
    if (r->n_layers_twice) {
        char twice[32];
        format_bytes(twice, sizeof twice, (double)r->twice_bytes);
        printf("  %zu layer(s) stored twice, in another compression, as their images' manifests name them "
               "(%s)\n", r->n_layers_twice, twice);
    }
    if (r->n_layers_expected)
        printf("  delta: %zu layer(s) left out, expected in the target (%s)\n", r->n_layers_expected,
               have->target ? have->target : "");
    if (o->split_size)
        printf("  split into %zu parts %s.000 .. %s.%03zu, listed in %s.parts\n", r->n_parts, o->output, o->output,
               r->n_parts - 1, o->output);
    if (o->parity)
        printf("  %zu parity part%s %s.p00 .. %s.p%02zu: any %zu lost or damaged parts can be rebuilt "
               "('airpack repair')\n", o->parity, o->parity == 1 ? "" : "s", o->output, o->output, o->parity - 1,
               o->parity);
    if (o->key) {
        ap_pubkey pk;
        char id[2 * AP_KEYNUM_LEN + 1];
        ap_seckey_public(key, &pk);
        ap_pubkey_key_id(&pk, id);
        printf("  signed by key ID %s\n", id);
    } else {
        printf("  unsigned (--unsigned): airpack verify and load will refuse it\n");
    }
}

/* Loads the signing key (asking for its password when it is encrypted). */
static int load_key(const cli_secret_key_opts *sk, ap_seckey *key, ap_error *err)
{
    if (secret_key_load(sk->path, sk->password_file, key, err) < 0) {
        size_t used = strlen(err->msg);
        if (!sk->path)
            snprintf(err->msg + used, sizeof err->msg - used, "\nairpack pack: create a key with 'airpack keygen', "
                     "give one with -s, or pack with --unsigned");
        return -1;
    }
    return 0;
}

/* Writes the bundle, with a progress line and the signals that remove a half-written one. */
static int run_pack(pack_options *o, bool quiet, pack_report *r, ap_error *err)
{
    progress_line pl;
    progress_init(&pl, "packing", 0, quiet);
    o->on_temp = on_temp;
    o->progress = progress_update;
    o->progress_total = set_total;
    o->progress_ctx = &pl;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int rc = pack_run(o, r, err);
    progress_done(&pl);
    return rc;
}

int cmd_pack(int argc, char **argv)
{
    pack_request req;
    pack_request_init(&req);
    cli_registry_opts reg = {.tls_verify = true};
    cli_secret_key_opts sk = {0};
    cli_strings images = {0};
    trusted_keys have_keys = {0};
    bool unsigned_bundle = false, quiet = false;
    const cli_option options[] = {
        OPT_STRING('o', "output", &req.o.output),
        OPT_SECRET_KEY(&sk),
        OPT_BOOL(0, "unsigned", &unsigned_bundle),
        OPT_CALLBACK('c', "compression", &req, opt_codec),
        OPT_CALLBACK('l', "level", &req.o.level, opt_level),
        OPT_CALLBACK('j', "threads", &req, opt_threads),
        OPT_BOOL(0, "dense", &req.o.dense),
        OPT_WINDOW(&req.o.dense_window_log),
        OPT_CALLBACK(0, "chunk-size", &req.o.dense_chunk, opt_chunk_size),
        OPT_STRING_LIST('i', "image", &images),
        OPT_CALLBACK(0, "on-conflict", &req.o.on_conflict, opt_on_conflict),
        OPT_STRING(0, "images-from", &req.images_from),
        OPT_CALLBACK(0, "platform", &req.so.platform, opt_platform),
        OPT_BOOL(0, "all-platforms", &req.so.all_platforms),
        OPT_BOOL(0, "no-referrers", &req.so.no_referrers),
        OPT_REGISTRY(&reg),
        OPT_STRING(0, "have", &req.have_path),
        OPT_STRING(0, "since", &req.since_path),
        OPT_CALLBACK('p', "public-key", &have_keys, cli_opt_pubkey_file),
        OPT_CALLBACK(0, "split", &req.o.split_size, opt_split),
        OPT_CALLBACK(0, "parity", &req.o.parity, opt_parity),
        OPT_STRING(0, "expires", &req.expires),
        OPT_CALLBACK(0, "sequence", &req.o.sequence, opt_sequence),
        OPT_CALLBACK(0, "channel", &req.o.channel, opt_channel),
        OPT_QUIET(&quiet),
        OPT_END(),
    };
    ap_error err;
    ap_error_clear(&err);
    ap_seckey key;
    memset(&key, 0, sizeof key);
    int status = 2;
    int first = cli_parse_options("pack", usage_text, options, 0, argc, argv);
    if (first < 0) {
        status = cli_parse_status(first);
        goto out;
    }
    if (!req.o.output || (first >= argc && !req.images_from)) {
        status = cli_usage_error("pack", usage_text, !req.o.output ? "-o BUNDLE is required" : "no inputs given");
        goto out;
    }
    req.args = (const char *const *)argv + first;
    req.n_args = (size_t)(argc - first);
    req.have_keys = have_keys.keys;
    req.n_have_keys = have_keys.n;
    req.so.tls_insecure = !reg.tls_verify;
    req.so.authfile = reg.authfile;
    req.so.creds = reg.creds;
    req.o.images = images.v;
    req.o.n_images = images.n;
    pack_report r;
    bool ok = ap_minisign_init(&err) == 0 && pack_request_prepare(&req, &err) == 0 && (unsigned_bundle || load_key(&sk, &key, &err) == 0);
    pack_request_set_key(&req, unsigned_bundle ? NULL : &key);
    if (!ok || run_pack(&req.o, quiet, &r, &err) < 0) {
        fprintf(stderr, "airpack pack: %s\nairpack pack: no bundle was written\n", err.msg);
        status = exit_status(&err);
        goto out;
    }
    if (!quiet)
        print_summary(&req, &r, &key);
    status = 0;
out:
    ap_seckey_wipe(&key);
    pack_request_free(&req);
    trusted_keys_free(&have_keys);
    cli_strings_free(&images);
    return status;
}
