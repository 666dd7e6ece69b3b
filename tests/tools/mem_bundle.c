/* mem_bundle.c: builds a small valid signed bundle in memory, for the verifier's
 * unit test and fuzz target (#included by them; everything here is static).
 *
 * One image "docker.io/library/fuzz:1" with one zstd layer (a tar holding one
 * file), its config and OCI manifest, oci-layout, index.json and manifest.json,
 * in the order BUNDLE-FORMAT.md gives; the index signed with the given key.
 * Built with airpack's own tar writer, codec, index writer and signer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../formats/bundle_index.h"
#include "../../formats/codec.h"
#include "../../formats/digest.h"
#include "../../formats/minisign.h"
#include "../../formats/tar_writer.h"

typedef struct {
    unsigned char *data;
    size_t len, cap;
} membuf;

static int membuf_put(membuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int membuf_sink(void *ctx, const void *buf, size_t n, ap_error *err)
{
    return membuf_put(ctx, buf, n) < 0 ? ap_fail(err, AP_ERR_NOMEM, "out of memory") : 0;
}

/* A reader over memory; chunk > 0 limits each read (short reads). */
typedef struct {
    const unsigned char *data;
    size_t len, pos, chunk;
} memreader;

static ssize_t mem_read(void *ctx, void *buf, size_t n, ap_error *err)
{
    (void)err;
    memreader *r = ctx;
    size_t k = r->len - r->pos;
    if (k > n)
        k = n;
    if (r->chunk && k > r->chunk)
        k = r->chunk;
    memcpy(buf, r->data + r->pos, k);
    r->pos += k;
    return (ssize_t)k;
}

static int tar_add(membuf *t, const char *path, const void *data, size_t n, ap_error *err)
{
    unsigned char h[AP_TAR_HEADER_MAX];
    static const unsigned char zeros[AP_TAR_BLOCK];
    size_t hn = ap_tar_header_write(h, path, n, 0, err);
    if (!hn || membuf_put(t, h, hn) < 0 || membuf_put(t, data, n) < 0 ||
        membuf_put(t, zeros, ap_tar_padding(n)) < 0)
        return -1;
    return 0;
}

/* The bundle's parts, kept for tests that want to forge variants. */
typedef struct {
    membuf layer_tar, layer_zst, index_json, sig;
    char config[1024], manifest[2048], oci_layout[64], index[2048], docker[1024];
    char diff_hex[AP_HEX_LEN + 1], layer_hex[AP_HEX_LEN + 1], config_hex[AP_HEX_LEN + 1],
        manifest_hex[AP_HEX_LEN + 1];
} mem_bundle_parts;

__attribute__((unused)) static void mem_bundle_parts_free(mem_bundle_parts *p)
{
    free(p->layer_tar.data);
    free(p->layer_zst.data);
    free(p->index_json.data);
    free(p->sig.data);
}

static int mem_bundle_make(const ap_seckey *sk, membuf *out, mem_bundle_parts *p, ap_error *err)
{
    static const unsigned char end[AP_TAR_END_SIZE];
    static const char hello[] = "hello, bundle\n";
    memset(p, 0, sizeof *p);
    /* the layer: a tar of one file, then zstd */
    if (tar_add(&p->layer_tar, "hello.txt", hello, sizeof hello - 1, err) < 0 ||
        membuf_put(&p->layer_tar, end, sizeof end) < 0)
        return -1;
    ap_sha256_hex(p->layer_tar.data, p->layer_tar.len, p->diff_hex);
    ap_compressor *z = ap_compressor_new(AP_CODEC_ZSTD, 0, 1, membuf_sink, &p->layer_zst, err);
    if (!z || ap_compressor_write(z, p->layer_tar.data, p->layer_tar.len, err) < 0 ||
        ap_compressor_finish(z, err) < 0) {
        ap_compressor_free(z);
        return -1;
    }
    ap_compressor_free(z);
    ap_sha256_hex(p->layer_zst.data, p->layer_zst.len, p->layer_hex);

    const char *lmt = "application/vnd.oci.image.layer.v1.tar+zstd";
    snprintf(p->config, sizeof p->config,
             "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
             "\"diff_ids\":[\"sha256:%s\"]}}", p->diff_hex);
    ap_sha256_hex(p->config, strlen(p->config), p->config_hex);
    snprintf(p->manifest, sizeof p->manifest,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%s\","
             "\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
             p->config_hex, strlen(p->config), lmt, p->layer_hex, p->layer_zst.len);
    ap_sha256_hex(p->manifest, strlen(p->manifest), p->manifest_hex);
    snprintf(p->oci_layout, sizeof p->oci_layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
    snprintf(p->index, sizeof p->index,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
             "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu,"
             "\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/fuzz:1\","
             "\"org.opencontainers.image.ref.name\":\"1\"}}]}",
             p->manifest_hex, strlen(p->manifest));
    snprintf(p->docker, sizeof p->docker,
             "[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"fuzz:1\"],\"Layers\":[\"blobs/sha256/%s\"]}]",
             p->config_hex, p->layer_hex);

    /* the index */
    char paths[3][80];
    snprintf(paths[0], sizeof paths[0], "blobs/sha256/%s", p->layer_hex);
    snprintf(paths[1], sizeof paths[1], "blobs/sha256/%s", p->config_hex);
    snprintf(paths[2], sizeof paths[2], "blobs/sha256/%s", p->manifest_hex);
    const void *datas[6] = {p->layer_zst.data, p->config, p->manifest, p->oci_layout, p->index, p->docker};
    size_t lens[6] = {p->layer_zst.len, strlen(p->config), strlen(p->manifest), strlen(p->oci_layout),
                      strlen(p->index), strlen(p->docker)};
    ap_index_entry entries[6] = {
        {paths[0], lens[0], ""}, {paths[1], lens[1], ""}, {paths[2], lens[2], ""},
        {"oci-layout", lens[3], ""}, {"index.json", lens[4], ""}, {"manifest.json", lens[5], ""}};
    for (int i = 0; i < 6; i++)
        ap_sha256_hex(datas[i], lens[i], entries[i].sha256);
    char *names[] = {"docker.io/library/fuzz:1"};
    ap_index_layer layer = {.size = p->layer_zst.len, .uncompressed_size = p->layer_tar.len,
                            .media_type = (char *)lmt};
    snprintf(layer.digest, sizeof layer.digest, "sha256:%s", p->layer_hex);
    snprintf(layer.diff_id, sizeof layer.diff_id, "sha256:%s", p->diff_hex);
    ap_index_image image = {.names = names, .n_names = 1, .platform = "linux/amd64",
                            .layers = &layer, .n_layers = 1};
    snprintf(image.manifest.digest, sizeof image.manifest.digest, "sha256:%s", p->manifest_hex);
    image.manifest.size = lens[2];
    snprintf(image.config.digest, sizeof image.config.digest, "sha256:%s", p->config_hex);
    image.config.size = lens[1];
    ap_bundle_index idx = {.version = 1, .created = "1970-01-01T00:00:00Z", .tool = "mem_bundle",
                           .compression = "zstd", .images = &image, .n_images = 1,
                           .entries = entries, .n_entries = 6};
    size_t ilen;
    char *ij = ap_bundle_index_write(&idx, &ilen, err);
    if (!ij)
        return -1;
    membuf_put(&p->index_json, ij, ilen);
    free(ij);
    char *sig;
    size_t slen;
    if (ap_sign(sk, p->index_json.data, p->index_json.len, "signature from mem_bundle",
                "timestamp:0\tfile:bundle.json\thashed", &sig, &slen, err) < 0)
        return -1;
    membuf_put(&p->sig, sig, slen);
    free(sig);

    /* the tar */
    if (tar_add(out, AP_INDEX_PATH, p->index_json.data, p->index_json.len, err) < 0 ||
        tar_add(out, AP_SIG_PATH, p->sig.data, p->sig.len, err) < 0)
        return -1;
    for (int i = 0; i < 6; i++)
        if (tar_add(out, entries[i].path, datas[i], lens[i], err) < 0)
            return -1;
    return membuf_put(out, end, sizeof end) < 0 ? ap_fail(err, AP_ERR_NOMEM, "out of memory") : 0;
}
