/* cmd_ls.c: `airpack ls`: the images and layers a bundle carries.
 * It reads only the index at the front of the bundle; it does not check the
 * signature (that is `airpack verify`'s job) and says so. */
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
#include "options.h"
#include "status.h"
#include "progress.h"

static const char usage_text[] =
    "usage: airpack ls [--json] BUNDLE|-\n"
    "(a split bundle: its first part NAME.000, or NAME; only that part is needed)\n"
    "\n"
    "Lists the images in a bundle (names, IDs, platforms, layers), which layers are shared,\n"
    "and what deduplication and compression saved. Reads only the bundle's index and does not\n"
    "check its signature: use 'airpack verify' for that.\n";

/* Per layer reference (image i, layer k, flat at off[i] + k): how many images use its
 * diff_id, and whether it is the first use, so each distinct layer is counted once.
 * One sort of every reference by diff_id: no scan of the images per layer. */
typedef struct {
    size_t *off;        /* per image: its first layer's flat index */
    size_t *uses;       /* per flat layer */
    bool *first;        /* per flat layer */
} layer_stats;

typedef struct {
    const char *diff_id;
    size_t image, flat;
} layer_ref;

static int cmp_ref(const void *a, const void *b)
{
    const layer_ref *x = a, *y = b;
    int c = strcmp(x->diff_id, y->diff_id);
    return c ? c : x->flat < y->flat ? -1 : x->flat > y->flat;
}

static void layer_stats_free(layer_stats *st)
{
    free(st->off);
    free(st->uses);
    free(st->first);
}

static int layer_stats_make(const ap_bundle_index *idx, layer_stats *st, ap_error *err)
{
    size_t n = 0;
    memset(st, 0, sizeof *st);
    st->off = malloc((idx->n_images + 1) * sizeof *st->off);
    if (!st->off)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < idx->n_images; i++) {
        st->off[i] = n;
        n += idx->images[i].n_layers;
    }
    st->off[idx->n_images] = n;
    layer_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    st->uses = calloc(n ? n : 1, sizeof *st->uses);
    st->first = calloc(n ? n : 1, sizeof *st->first);
    if (!refs || !st->uses || !st->first) {
        free(refs);
        layer_stats_free(st);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < idx->n_images; i++)
        for (size_t k = 0; k < idx->images[i].n_layers; k++)
            refs[st->off[i] + k] = (layer_ref){idx->images[i].layers[k].diff_id, i, st->off[i] + k};
    qsort(refs, n, sizeof *refs, cmp_ref);
    for (size_t a = 0; a < n;) {
        size_t b = a, images = 0;
        for (; b < n && !strcmp(refs[b].diff_id, refs[a].diff_id); b++)
            if (b == a || refs[b].image != refs[b - 1].image)
                images++;   /* sorted by flat index, so one image's references are adjacent */
        st->first[refs[a].flat] = true;
        for (size_t c = a; c < b; c++)
            st->uses[refs[c].flat] = images;
        a = b;
    }
    free(refs);
    return 0;
}

/* Whether layer k of image i is the first use of its blob: a diff_id carried byte for byte
 * as two blobs (a gzip and a zstd manifest of one image) is stored twice. */
static bool first_blob_use(const ap_bundle_index *idx, size_t i, size_t k)
{
    const char *digest = idx->images[i].layers[k].digest;
    for (size_t a = 0; a <= i; a++) {
        size_t end = a == i ? k : idx->images[a].n_layers;
        for (size_t b = 0; b < end; b++)
            if (!strcmp(idx->images[a].layers[b].digest, digest))
                return false;
    }
    return true;
}

static uint64_t bundle_bytes(const ap_bundle_index *idx)
{
    uint64_t total = 0;
    for (size_t i = 0; i < idx->n_entries; i++)
        total += idx->entries[i].size;
    return total;
}

/* A dense bundle's layers are stored as chunks: the bytes of its airpack/dense/ entries. */
static uint64_t dense_stored(const ap_bundle_index *idx)
{
    uint64_t t = 0;
    for (size_t i = 0; i < idx->n_entries; i++)
        if (!strncmp(idx->entries[i].path, "airpack/dense/", 14))
            t += idx->entries[i].size;
    return t;
}

static void print_json(const char *path, const ap_bundle_index *idx, const layer_stats *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "bundle", json_string(path));
    json_object_set_new(o, "format_version", json_integer(idx->version));
    json_object_set_new(o, "created", json_string(idx->created));
    json_object_set_new(o, "tool", json_string(idx->tool));
    json_object_set_new(o, "compression", json_string(idx->compression));
    json_object_set_new(o, "channel", json_string(ap_bundle_index_channel(idx)));
    json_object_set_new(o, "sequence", json_integer((json_int_t)idx->sequence));
    json_object_set_new(o, "expires", idx->expires ? json_string(idx->expires) : json_null());
    json_object_set_new(o, "base_sequence", idx->base_sequence ? json_integer((json_int_t)idx->base_sequence)
                                                               : json_null());
    json_t *images = json_array();
    json_t *layers = json_array();
    uint64_t referenced = 0, distinct = 0, stored = 0;
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        json_t *j = json_object();
        json_t *names = json_array();
        for (size_t k = 0; k < im->n_names; k++)
            json_array_append_new(names, json_string(im->names[k]));
        json_object_set_new(j, "names", names);
        json_object_set_new(j, "id", json_string(im->config.digest));
        json_object_set_new(j, "manifest", json_string(im->manifest.digest));
        json_object_set_new(j, "manifest_media_type", json_string(ap_index_image_manifest_type(im)));
        json_object_set_new(j, "source_manifest", im->source_manifest[0] ? json_string(im->source_manifest)
                                                                         : json_null());
        json_t *refs = json_array();
        for (size_t q = 0; q < idx->n_referrers; q++)
            if (!strcmp(idx->referrers[q].subject, im->manifest.digest))
                json_array_append_new(refs, json_pack("{s:s,s:s}", "tag", idx->referrers[q].tag, "manifest",
                                                      idx->referrers[q].manifest.digest));
        json_object_set_new(j, "referrers", refs);
        json_object_set_new(j, "platform", im->platform ? json_string(im->platform) : json_null());
        json_t *ls = json_array();
        for (size_t k = 0; k < im->n_layers; k++) {
            const ap_index_layer *l = &im->layers[k];
            json_t *lj = json_object();
            json_object_set_new(lj, "digest", json_string(l->digest));
            json_object_set_new(lj, "diff_id", json_string(l->diff_id));
            json_object_set_new(lj, "size", json_integer((json_int_t)l->size));
            json_object_set_new(lj, "uncompressed_size", json_integer((json_int_t)l->uncompressed_size));
            json_object_set_new(lj, "media_type", json_string(l->media_type));
            json_object_set_new(lj, "shared", json_boolean(st->uses[st->off[i] + k] > 1));
            json_object_set_new(lj, "expected", json_boolean(l->expected));
            json_array_append_new(ls, lj);
            referenced += l->uncompressed_size;
            if (st->first[st->off[i] + k]) {
                distinct += l->uncompressed_size;
                stored += l->expected ? 0 : l->size;
                json_t *u = json_object();
                json_object_set_new(u, "digest", json_string(l->digest));
                json_object_set_new(u, "diff_id", json_string(l->diff_id));
                json_object_set_new(u, "size", json_integer((json_int_t)l->size));
                json_object_set_new(u, "uncompressed_size", json_integer((json_int_t)l->uncompressed_size));
                json_object_set_new(u, "used_by", json_integer((json_int_t)st->uses[st->off[i] + k]));
                json_object_set_new(u, "expected", json_boolean(l->expected));
                json_array_append_new(layers, u);
            }
        }
        json_object_set_new(j, "layers", ls);
        json_array_append_new(images, j);
    }
    json_object_set_new(o, "images", images);
    json_object_set_new(o, "layers", layers);
    json_t *t = json_object();
    json_object_set_new(t, "referenced_uncompressed_bytes", json_integer((json_int_t)referenced));
    json_object_set_new(t, "distinct_uncompressed_bytes", json_integer((json_int_t)distinct));
    json_object_set_new(t, "stored_layer_bytes", json_integer((json_int_t)stored));
    json_object_set_new(t, "entries_bytes", json_integer((json_int_t)bundle_bytes(idx)));
    json_object_set_new(t, "entries", json_integer((json_int_t)idx->n_entries));
    json_object_set_new(t, "expected_layers", json_integer((json_int_t)ap_bundle_index_n_expected(idx)));
    json_object_set_new(o, "totals", t);
    if (idx->dense_window_log) {
        json_t *dj = json_object();
        json_object_set_new(dj, "window_log", json_integer(idx->dense_window_log));
        json_object_set_new(dj, "unique_bytes", json_integer((json_int_t)idx->dense_unique_bytes));
        json_object_set_new(dj, "stored_bytes", json_integer((json_int_t)dense_stored(idx)));
        json_object_set_new(o, "dense", dj);
    }
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

static void print_text(const char *path, const ap_bundle_index *idx, const layer_stats *st)
{
    uint64_t referenced = 0, distinct = 0, stored = 0;
    size_t n_distinct = 0, n_refs = 0, n_twice = 0;
    uint64_t twice = 0;   /* layers stored again as another blob */
    bool plain_dense = idx->dense_window_log && idx->compression && !strcmp(idx->compression, "none");
    printf("%s: airpack bundle v%d, %zu image%s, %s layers, created %s by %s\n", path, idx->version,
           idx->n_images, idx->n_images == 1 ? "" : "s",
           !idx->dense_window_log ? idx->compression
           : plain_dense          ? "dense (chunked, zstd; loaded as plain tars)"
                                  : "dense (chunked, zstd; loaded as zstd)",
           idx->created, idx->tool);
    printf("channel %s, sequence %llu%s, %s%s", ap_bundle_index_channel(idx), (unsigned long long)idx->sequence,
           idx->sequence_set ? "" : " (its creation time)", idx->expires ? "expires " : "never expires",
           idx->expires ? idx->expires : "");
    if (idx->base_sequence)
        printf("; a delta on sequence %llu", (unsigned long long)idx->base_sequence);
    printf("\n(the signature is not checked here: run 'airpack verify')\n\n");
    for (size_t i = 0; i < idx->n_images; i++) {
        const ap_index_image *im = &idx->images[i];
        uint64_t isize = 0;
        for (size_t k = 0; k < im->n_layers; k++)
            isize += im->layers[k].uncompressed_size;
        char hs[32];
        format_bytes(hs, sizeof hs, (double)isize);
        printf("%s", im->n_names ? im->names[0] : "(untagged)");
        for (size_t k = 1; k < im->n_names; k++)
            printf(", %s", im->names[k]);
        printf("\n  ID %s  %s  %zu layer%s, %s\n", im->config.digest, im->platform ? im->platform : "",
               im->n_layers, im->n_layers == 1 ? "" : "s", hs);
        printf("  manifest %s%s%s%s\n", im->manifest.digest,
               im->source_manifest[0] ? " (recompressed; the source's was " : " (as the source signed it or as airpack wrote it)",
               im->source_manifest[0] ? im->source_manifest : "", im->source_manifest[0] ? ")" : "");
        for (size_t q = 0; q < idx->n_referrers; q++)
            if (!strcmp(idx->referrers[q].subject, im->manifest.digest))
                printf("  referrer %s (manifest %s)\n", idx->referrers[q].tag[0] ? idx->referrers[q].tag : "(OCI 1.1, by digest)",
                       idx->referrers[q].manifest.digest);
        for (size_t k = 0; k < im->n_layers; k++) {
            const ap_index_layer *l = &im->layers[k];
            char cs[32], us[32];
            format_bytes(cs, sizeof cs, (double)l->size);
            format_bytes(us, sizeof us, (double)l->uncompressed_size);
            size_t uses = st->uses[st->off[i] + k];
            if (l->expected)
                printf("    %.19s  expected in the target: blob %.19s, %s\n", l->diff_id, l->digest, cs);
            else
                printf("    %.19s  %10s %s  %10s uncompressed%s\n", l->diff_id, cs,
                       idx->dense_window_log ? "loaded" : "stored", us, uses > 1 ? "  shared" : "");
            referenced += l->uncompressed_size;
            n_refs++;
            if (st->first[st->off[i] + k]) {
                distinct += l->uncompressed_size;
                stored += l->expected ? 0 : l->size;
                n_distinct++;
            } else if (first_blob_use(idx, i, k) && !l->expected) {
                n_twice++;
                twice += l->size;
            }
        }
    }
    char r[32], d[32], s[32], b[32];
    format_bytes(r, sizeof r, (double)referenced);
    format_bytes(d, sizeof d, (double)distinct);
    format_bytes(s, sizeof s, (double)stored);
    format_bytes(b, sizeof b, (double)bundle_bytes(idx));
    if (idx->dense_window_log) {
        char u[32], c[32];
        format_bytes(u, sizeof u, (double)idx->dense_unique_bytes);
        format_bytes(c, sizeof c, (double)dense_stored(idx));
        printf("\n%zu layers as the images use them (%s uncompressed); %zu distinct (%s), whose distinct chunks\n"
               "(%s) are stored compressed to %s. Loading it needs a 2^%u-byte zstd window and %s of\n"
               "temporary disk; plain 'docker load' cannot read it (use 'airpack load').\n",
               n_refs, r, n_distinct, d, u, c, idx->dense_window_log, u);
    } else
        printf("\n%zu layers as the images use them (%s uncompressed); %zu stored once (%s), compressed to %s.\n",
               n_refs, r, n_distinct, d, s);
    if (n_twice) {
        char t[32];
        format_bytes(t, sizeof t, (double)twice);
        printf("%zu of them stored again as another blob (another compression, as their images' manifests name "
               "them): %s more.\n", n_twice, t);
    }
    printf("Bundle entries: %zu, %s: %.0f%% of the layers' uncompressed size.\n", idx->n_entries, b,
           referenced ? 100.0 * (double)bundle_bytes(idx) / (double)referenced : 0.0);
    char *delta = delta_describe(idx);
    if (delta)
        printf("\nThis is a delta bundle: load it only into a store that holds what it expects.\n%s", delta);
    free(delta);
}

int cmd_ls(int argc, char **argv)
{
    bool json = false;
    const cli_option options[] = {
        OPT_JSON(&json),
        OPT_END(),
    };
    int first = cli_parse_options("ls", usage_text, options, 0, argc, argv);
    if (first < 0)
        return cli_parse_status(first);
    if (first != argc - 1)
        return cli_usage_error("ls", usage_text, "give exactly one BUNDLE (or - for standard input)");
    const char *path = argv[first];
    ap_bundle_index idx;
    ap_error err;
    ap_error_clear(&err);
    if (bundle_peek_index(path, &idx, &err) < 0) {
        fprintf(stderr, "airpack ls: %s\n", err.msg);
        return exit_status(&err);
    }
    layer_stats st;
    if (layer_stats_make(&idx, &st, &err) < 0) {
        fprintf(stderr, "airpack ls: %s: %s\n", path, err.msg);
        ap_bundle_index_free(&idx);
        return exit_status(&err);
    }
    if (json)
        print_json(path, &idx, &st);
    else
        print_text(path, &idx, &st);
    layer_stats_free(&st);
    ap_bundle_index_free(&idx);
    return 0;
}
