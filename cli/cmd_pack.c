/* cmd_pack.c: `airpack pack`: many images into one signed bundle. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../formats/minisign.h"
#include "../packer/have_source.h"
#include "../formats/parity.h"
#include "../formats/parts.h"
#include "../packer/pack.h"
#include "../packer/split_output.h"
#include "../formats/timefmt.h"
#include "commands.h"
#include "keys.h"
#include "progress.h"

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

static void human(char *out, size_t n, double b)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
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

/* --images-from: one input a line; blank lines and # comments skipped. */
static int read_list(const char *path, char **text_out, char ***lines_out, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "airpack pack: --images-from %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t cap = 0, len = 0;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + got + 1 > (64u << 20)) {
            fclose(f);
            free(text);
            fprintf(stderr, "airpack pack: --images-from %s: larger than 64 MiB\n", path);
            return -1;
        }
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *nt = realloc(text, cap);
            if (!nt) {
                fclose(f);
                free(text);
                return -1;
            }
            text = nt;
        }
        memcpy(text + len, buf, got);
        len += got;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        fprintf(stderr, "airpack pack: --images-from %s: read error\n", path);
        return -1;
    }
    if (!text && !(text = calloc(1, 1)))
        return -1;
    text[len] = '\0';
    char **lines = NULL;
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
            line[--l] = '\0';
        if (!l)
            continue;
        char **grown = realloc(lines, (n + 1) * sizeof *lines);
        if (!grown) {
            free(lines);
            free(text);
            return -1;
        }
        lines = grown;
        lines[n++] = line;
    }
    if (n == 0) {
        fprintf(stderr, "airpack pack: --images-from %s lists no inputs\n", path);
        free(lines);
        free(text);
        return -1;
    }
    *text_out = text;
    *lines_out = lines;
    *n_out = n;
    return 0;
}

int cmd_pack(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"secret-key", required_argument, NULL, 's'},
        {"password-file", required_argument, NULL, 'P'},
        {"unsigned", no_argument, NULL, 'U'},
        {"compression", required_argument, NULL, 'c'},
        {"level", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 'j'},
        {"image", required_argument, NULL, 'i'},
        {"on-conflict", required_argument, NULL, 'C'},
        {"quiet", no_argument, NULL, 'q'},
        {"images-from", required_argument, NULL, 'F'},
        {"platform", required_argument, NULL, 'L'},
        {"have", required_argument, NULL, 'H'},
        {"since", required_argument, NULL, 'S'},
        {"public-key", required_argument, NULL, 'p'},
        {"all-platforms", no_argument, NULL, 'A'},
        {"tls-verify", required_argument, NULL, 'T'},
        {"authfile", required_argument, NULL, 'a'},
        {"creds", required_argument, NULL, 'r'},
        {"split", required_argument, NULL, 'Z'},
        {"parity", required_argument, NULL, 'Y'},
        {"dense", no_argument, NULL, 'D'},
        {"window", required_argument, NULL, 'W'},
        {"chunk-size", required_argument, NULL, 'K'},
        {"expires", required_argument, NULL, 'E'},
        {"sequence", required_argument, NULL, 'Q'},
        {"channel", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *key_path = NULL, *password_file = NULL;
    bool unsigned_bundle = false, quiet = false, codec_given = false, threads_given = false;
    pack_options o;
    memset(&o, 0, sizeof o);
    o.codec = AP_CODEC_ZSTD;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = nproc > 0 ? (int)nproc : 1;
    const char **images = calloc((size_t)argc + 1, sizeof *images);
    if (!images)
        return 2;
    size_t n_images = 0;
    source_options so;
    memset(&so, 0, sizeof so);
    const char *images_from = NULL, *have_path = NULL, *since_path = NULL, *expires = NULL;
    trusted_keys have_keys = {0};
    ap_have_list have;
    memset(&have, 0, sizeof have);
    ap_error err;
    ap_error_clear(&err);
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:c:l:j:i:p:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 's': key_path = optarg; break;
        case 'P': password_file = optarg; break;
        case 'U': unsigned_bundle = true; break;
        case 'c':
            codec_given = true;
            if (ap_codec_parse(optarg, &o.codec, &err) < 0 || o.codec == AP_CODEC_XZ) {
                fprintf(stderr, "airpack pack: --compression takes zstd, gzip or none, not '%s'\n", optarg);
                free(images);
                return 2;
            }
            break;
        case 'l':
            if (parse_int(optarg, 1, 22, &v) < 0) {
                fprintf(stderr, "airpack pack: --level takes a number from 1 to 22 (gzip: 1 to 9)\n");
                free(images);
                return 2;
            }
            o.level = (int)v;
            break;
        case 'j':
            if (parse_int(optarg, 1, 256, &v) < 0) {
                fprintf(stderr, "airpack pack: -j takes a number of threads from 1 to 256\n");
                free(images);
                return 2;
            }
            o.threads = (int)v;
            threads_given = true;
            break;
        case 'i': images[n_images++] = optarg; break;
        case 'C':
            if (!strcmp(optarg, "error"))
                o.on_conflict = PACK_CONFLICT_ERROR;
            else if (!strcmp(optarg, "first"))
                o.on_conflict = PACK_CONFLICT_FIRST;
            else if (!strcmp(optarg, "last"))
                o.on_conflict = PACK_CONFLICT_LAST;
            else {
                fprintf(stderr, "airpack pack: --on-conflict takes error, first or last\n");
                free(images);
                return 2;
            }
            break;
        case 'q': quiet = true; break;
        case 'D': o.dense = true; break;
        case 'W':
        case 'K': {
            char *end;
            long wv = strtol(optarg, &end, 10);
            bool bad = *end || (c == 'W' ? (wv < 10 || wv > 31) : (wv < 1 || wv > 1024 || (wv & (wv - 1))));
            if (bad) {
                fprintf(stderr, c == 'W' ? "airpack pack: --window takes a number from 10 to 31 (log2 bytes)\n"
                                         : "airpack pack: --chunk-size takes a power of two from 1 to 1024 (KiB)\n");
                free(images);
                return 2;
            }
            if (c == 'W')
                o.dense_window_log = (unsigned)wv;
            else
                o.dense_chunk = (size_t)wv << 10;
            break;
        }
        case 'F': images_from = optarg; break;
        case 'H': have_path = optarg; break;
        case 'S': since_path = optarg; break;
        case 'p':
            if (trusted_keys_add_file(&have_keys, optarg, &err) < 0) {
                fprintf(stderr, "airpack pack: %s\n", err.msg);
                free(images);
                return 2;
            }
            break;
        case 'L':
            if (!valid_platform(optarg)) {
                fprintf(stderr, "airpack pack: --platform takes OS/ARCH[/VARIANT] (linux/arm64), not '%s'\n",
                        optarg);
                free(images);
                return 2;
            }
            so.platform = optarg;
            break;
        case 'A': so.all_platforms = true; break;
        case 'T':
            if (!strcmp(optarg, "false"))
                so.tls_insecure = true;
            else if (!strcmp(optarg, "true"))
                so.tls_insecure = false;
            else {
                fprintf(stderr, "airpack pack: --tls-verify takes true or false\n");
                free(images);
                return 2;
            }
            break;
        case 'a': so.authfile = optarg; break;
        case 'r': so.creds = optarg; break;
        case 'Z':
            if (ap_parse_split_size(optarg, &o.split_size, "--split", &err) < 0) {
                fprintf(stderr, "airpack pack: %s\n", err.msg);
                free(images);
                return 2;
            }
            if (o.split_size == (4ull << 30))
                fprintf(stderr, "airpack pack: note: FAT32 holds files up to 4G minus one byte; "
                                "use --split 4095M for FAT32 sticks\n");
            break;
        case 'E': expires = optarg; break;
        case 'Q': {
            char *end;
            errno = 0;
            unsigned long long sq = strtoull(optarg, &end, 10);
            if (errno || *end || optarg[0] < '1' || optarg[0] > '9' || sq > (unsigned long long)INT64_MAX) {
                fprintf(stderr, "airpack pack: --sequence takes a whole number from 1 to 2^63-1, not '%s'\n", optarg);
                free(images);
                return 2;
            }
            o.sequence = sq;
            break;
        }
        case 'N':
            if (!ap_channel_valid(optarg)) {
                fprintf(stderr, "airpack pack: --channel '%s': 1-%d of a-z, 0-9, '.', '_', '-', starting with a "
                                "letter or digit\n", optarg, AP_CHANNEL_MAX);
                free(images);
                return 2;
            }
            o.channel = optarg;
            break;
        case 'Y': {
            char *end;
            errno = 0;
            unsigned long np = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || np < 1 || np > AP_PARITY_MAX) {
                fprintf(stderr, "airpack pack: --parity takes a number of parity parts from 1 to %d, not '%s'\n",
                        AP_PARITY_MAX, optarg);
                free(images);
                return 2;
            }
            o.parity = (size_t)np;
            break;
        }
        case 'h':
            fputs(usage_text, stdout);
            free(images);
            return 0;
        default:
            fputs(usage_text, stderr);
            free(images);
            return 2;
        }
    }
    if (!output || (optind >= argc && !images_from)) {
        fprintf(stderr, "airpack pack: %s\n\n%s", !output ? "-o BUNDLE is required" : "no inputs given",
                usage_text);
        free(images);
        return 2;
    }
    if ((o.dense_window_log || o.dense_chunk) && !o.dense) {
        fprintf(stderr, "airpack pack: --window and --chunk-size go with --dense\n");
        free(images);
        return 2;
    }
    /* --dense: loaders write plain tars unless told zstd (whose bytes depend on the libzstd version);
     * one segment compressed at a time unless -j says more (each takes 2^window + 80 MiB) */
    if (o.dense && !codec_given)
        o.codec = AP_CODEC_NONE;
    if (o.dense && threads_given)
        o.dense_jobs = o.threads;
    if (o.dense && o.codec == AP_CODEC_GZIP) {
        fprintf(stderr, "airpack pack: --dense takes --compression zstd (layers loaded as zstd blobs) or none "
                        "(loaded as plain tars), not gzip\n");
        free(images);
        return 2;
    }
    if (o.codec == AP_CODEC_GZIP && o.level > 9) {
        fprintf(stderr, "airpack pack: gzip levels go from 1 to 9\n");
        free(images);
        return 2;
    }
    if (o.parity && !o.split_size) {
        fprintf(stderr, "airpack pack: --parity needs --split SIZE: parity parts protect the parts of a split bundle\n");
        free(images);
        return 2;
    }
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end;
        errno = 0;
        long long e = strtoll(sde, &end, 10);
        if (errno || *end || e < 0 || e > 077777777777LL) {
            fprintf(stderr, "airpack pack: SOURCE_DATE_EPOCH must be a number of seconds, not '%s'\n", sde);
            free(images);
            return 2;
        }
        o.epoch = e;
    } else {
        o.epoch = (int64_t)time(NULL);
    }
    if (expires) {
        if (ap_expiry_parse(expires, o.epoch, &o.expires, &err) < 0 || o.expires <= o.epoch) {
            if (err.msg[0])
                fprintf(stderr, "airpack pack: %s\n", err.msg);
            else
                fprintf(stderr, "airpack pack: --expires %s is not after the bundle's creation time\n", expires);
            free(images);
            return 2;
        }
    }

    int status = 0;
    ap_seckey key;
    memset(&key, 0, sizeof key);
    if (ap_minisign_init(&err) < 0) {
        fprintf(stderr, "airpack pack: %s\n", err.msg);
        free(images);
        return 2;
    }
    if (!unsigned_bundle) {
        if (secret_key_load(key_path, password_file, &key, &err) < 0) {
            fprintf(stderr, "airpack pack: %s\n", err.msg);
            if (!key_path)
                fprintf(stderr, "airpack pack: create a key with 'airpack keygen', give one with -s, "
                                "or pack with --unsigned\n");
            free(images);
            return 2;
        }
        o.key = &key;
    }
    if ((have_path || since_path) && o.dense) {
        fprintf(stderr, "airpack pack: --dense cannot make a delta yet: give --dense, or --have/--since\n");
        ap_seckey_wipe(&key);
        free(images);
        return 2;
    }
    if (have_path && since_path) {
        fprintf(stderr, "airpack pack: give --have or --since, not both\n");
        ap_seckey_wipe(&key);
        free(images);
        return 2;
    }
    if (have_path || since_path) {
        int hrc = have_path ? have_load_file(have_path, have_keys.keys, have_keys.n, &have, &err)
                            : have_load_since(since_path, have_keys.keys, have_keys.n, &have, &err);
        if (hrc < 0) {
            fprintf(stderr, "airpack pack: %s\nairpack pack: no bundle was written\n", err.msg);
            ap_seckey_wipe(&key);
            trusted_keys_free(&have_keys);
            free(images);
            return err.code == AP_ERR_VERIFY || err.code == AP_ERR_FORMAT ? 1 : 2;
        }
        o.have = &have;
        if (since_path && have.base_sequence) {
            const char *ch = o.channel ? o.channel : AP_DEFAULT_CHANNEL;
            if (strcmp(ch, have.base_channel)) {
                fprintf(stderr, "airpack pack: --since %s is on channel '%s', this bundle on '%s': a delta builds "
                                "on a bundle of its own channel\nairpack pack: no bundle was written\n",
                        since_path, have.base_channel, ch);
                ap_seckey_wipe(&key);
                trusted_keys_free(&have_keys);
                ap_have_free(&have);
                free(images);
                return 2;
            }
            o.base_sequence = have.base_sequence;
        }
    }
    char **listed = NULL, *list_text = NULL;
    size_t n_listed = 0;
    if (images_from && read_list(images_from, &list_text, &listed, &n_listed) < 0) {
        ap_seckey_wipe(&key);
        free(images);
        return 2;
    }
    size_t n_inputs = (size_t)(argc - optind) + n_listed;
    const char **inputs = calloc(n_inputs + 1, sizeof *inputs);
    if (!inputs) {
        ap_seckey_wipe(&key);
        free(images);
        free(listed);
        free(list_text);
        return 2;
    }
    for (int i = optind; i < argc; i++)
        inputs[i - optind] = argv[i];
    for (size_t i = 0; i < n_listed; i++)
        inputs[(size_t)(argc - optind) + i] = listed[i];
    o.inputs = inputs;
    o.n_inputs = n_inputs;
    o.source_opts = &so;
    o.output = output;
    o.images = images;
    o.n_images = n_images;
    o.on_temp = on_temp;
    uint64_t total = 0;
    progress_line pl;
    progress_init(&pl, "packing", total, quiet);
    o.progress = progress_update;
    o.progress_total = set_total;
    o.progress_ctx = &pl;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    pack_report r;
    if (pack_run(&o, &r, &err) < 0) {
        progress_done(&pl);
        fprintf(stderr, "airpack pack: %s\nairpack pack: no bundle was written\n", err.msg);
        status = (err.code == AP_ERR_FORMAT || err.code == AP_ERR_VERIFY) ? 1 : 2;
    } else {
        progress_done(&pl);
        if (!quiet) {
            char stored[32], refd[32], bundle[32];
            human(stored, sizeof stored, (double)r.uncompressed_bytes);
            human(refd, sizeof refd, (double)r.referenced_bytes);
            human(bundle, sizeof bundle, (double)r.bundle_bytes);
            printf("%s: %zu images, %zu layers stored once (%zu as the images use them), %s compressed%s\n",
                   output, r.n_images, r.n_layers_stored, r.n_layers_referenced,
                   o.dense ? "dense, zstd" : ap_codec_name(o.codec),
                   o.dense && o.codec == AP_CODEC_NONE ? "; a load writes the layers as plain tars" : "");
            if (o.dense) {
                char uniq[32];
                human(uniq, sizeof uniq, (double)r.dense_unique_bytes);
                printf("  dense: %s in %llu distinct chunks, %u segments; a load needs a 2^%u-byte window and "
                       "%s of temporary disk\n", uniq, (unsigned long long)r.dense_chunks, r.dense_segments,
                       o.dense_window_log ? o.dense_window_log : 27, uniq);
            }
            printf("  layers %s uncompressed as the images use them, %s distinct; bundle %s (%.0f%% of the first)\n",
                   refd, stored, bundle,
                   r.referenced_bytes ? 100.0 * (double)r.bundle_bytes / (double)r.referenced_bytes : 0.0);
            if (r.n_layers_expected)
                printf("  delta: %zu layer(s) left out, expected in the target (%s)\n", r.n_layers_expected,
                       have.target ? have.target : "");
            if (o.split_size)
                printf("  split into %zu parts %s.000 .. %s.%03zu, listed in %s.parts\n", r.n_parts, output, output,
                       r.n_parts - 1, output);
            if (o.parity)
                printf("  %zu parity part%s %s.p00 .. %s.p%02zu: any %zu lost or damaged parts can be rebuilt "
                       "('airpack repair')\n", o.parity, o.parity == 1 ? "" : "s", output, output, o.parity - 1,
                       o.parity);
            if (o.key) {
                ap_pubkey pk;
                char id[2 * AP_KEYNUM_LEN + 1];
                ap_seckey_public(&key, &pk);
                ap_pubkey_key_id(&pk, id);
                printf("  signed by key ID %s\n", id);
            } else {
                printf("  unsigned (--unsigned): airpack verify and load will refuse it\n");
            }
        }
    }
    ap_seckey_wipe(&key);
    ap_have_free(&have);
    trusted_keys_free(&have_keys);
    free(images);
    free(inputs);
    free(listed);
    free(list_text);
    return status;
}
