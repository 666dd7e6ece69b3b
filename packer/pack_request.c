/* pack_request.c: see pack_request.h. */
#include "pack_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../formats/timefmt.h"
#include "have_source.h"

#define LIST_MAX (64u << 20)

void pack_request_init(pack_request *req)
{
    memset(req, 0, sizeof *req);
    req->o.codec = AP_CODEC_ZSTD;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    req->o.threads = nproc > 0 ? (int)nproc : 1;
}

void pack_request_free(pack_request *req)
{
    ap_have_free(&req->have);
    free(req->list_text);
    free(req->inputs);
    req->list_text = NULL;
    req->inputs = NULL;
}

/* Options that do not go together, and the defaults that follow from others. */
static int check_combinations(pack_request *req, ap_error *err)
{
    pack_options *o = &req->o;
    if ((o->dense_window_log || o->dense_chunk) && !o->dense)
        return ap_fail(err, AP_ERR_USAGE, "--window and --chunk-size go with --dense");
    /* --dense: loaders write plain tars unless told zstd (whose bytes depend on the libzstd version);
     * one segment compressed at a time unless -j says more (each takes 2^window + 80 MiB) */
    if (o->dense && !req->codec_given)
        o->codec = AP_CODEC_NONE;
    if (o->dense && req->threads_given)
        o->dense_jobs = o->threads;
    o->faithful = !req->codec_given && !o->dense;   /* -c or --dense: recompress, new manifests */
    if (o->dense && o->codec == AP_CODEC_GZIP)
        return ap_fail(err, AP_ERR_USAGE, "--dense takes --compression zstd (layers loaded as zstd blobs) or none "
                                          "(loaded as plain tars), not gzip");
    if (o->codec == AP_CODEC_GZIP && o->level > 9)
        return ap_fail(err, AP_ERR_USAGE, "gzip levels go from 1 to 9");
    if ((req->have_path || req->since_path) && o->dense)
        return ap_fail(err, AP_ERR_USAGE, "--dense cannot make a delta yet: give --dense, or --have/--since");
    if (req->have_path && req->since_path)
        return ap_fail(err, AP_ERR_USAGE, "give --have or --since, not both");
    if (o->parity && !o->split_size)
        return ap_fail(err, AP_ERR_USAGE, "--parity needs --split SIZE: parity parts protect the parts of a split bundle");
    return 0;
}

/* The bundle's time: SOURCE_DATE_EPOCH (reproducible bytes) or now; then --expires after it. */
static int set_times(pack_request *req, ap_error *err)
{
    if (ap_source_date_epoch(&req->o.epoch, err) < 0)
        return -1;
    if (!req->expires)
        return 0;
    if (ap_expiry_parse(req->expires, req->o.epoch, &req->o.expires, err) < 0)
        return -1;
    if (req->o.expires <= req->o.epoch)
        return ap_fail(err, AP_ERR_USAGE, "--expires %s is not after the bundle's creation time", req->expires);
    return 0;
}

/* --have / --since: what the far side holds, and (--since) the sequence this delta builds on. */
static int load_have(pack_request *req, ap_error *err)
{
    if (!req->have_path && !req->since_path)
        return 0;
    int rc = req->have_path ? have_load_file(req->have_path, req->have_keys, req->n_have_keys, &req->have, err)
                            : have_load_since(req->since_path, req->have_keys, req->n_have_keys, &req->have, err);
    if (rc < 0)
        return -1;
    req->o.have = &req->have;
    if (req->since_path && req->have.base_sequence) {
        const char *ch = req->o.channel ? req->o.channel : AP_DEFAULT_CHANNEL;
        if (strcmp(ch, req->have.base_channel))
            return ap_fail(err, AP_ERR_USAGE, "--since %s is on channel '%s', this bundle on '%s': a delta builds "
                           "on a bundle of its own channel", req->since_path, req->have.base_channel, ch);
        req->o.base_sequence = req->have.base_sequence;
    }
    return 0;
}

/* Reads the --images-from file whole (at most LIST_MAX bytes) into req->list_text. */
static int read_list_text(pack_request *req, size_t *len_out, ap_error *err)
{
    FILE *f = fopen(req->images_from, "r");
    if (!f)
        return ap_fail_errno(err, AP_ERR_IO, "--images-from %s", req->images_from);
    size_t cap = 0, len = 0, got;
    char buf[4096];
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (len + got + 1 > LIST_MAX) {
            fclose(f);
            return ap_fail(err, AP_ERR_USAGE, "--images-from %s: larger than 64 MiB", req->images_from);
        }
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *grown = realloc(req->list_text, cap);
            if (!grown) {
                fclose(f);
                return ap_fail(err, AP_ERR_NOMEM, "--images-from %s: out of memory", req->images_from);
            }
            req->list_text = grown;
        }
        memcpy(req->list_text + len, buf, got);
        len += got;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad)
        return ap_fail(err, AP_ERR_IO, "--images-from %s: read error", req->images_from);
    if (!req->list_text && !(req->list_text = calloc(1, 1)))
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    req->list_text[len] = '\0';
    *len_out = len;
    return 0;
}

/* req->o.inputs: the inputs named on the command line, then those --images-from lists. */
static int collect_inputs(pack_request *req, ap_error *err)
{
    size_t len = 0, lines = 0;
    if (req->images_from) {
        if (read_list_text(req, &len, err) < 0)
            return -1;
        for (size_t i = 0; i < len; i++)
            lines += req->list_text[i] == '\n';
    }
    req->inputs = calloc(req->n_args + lines + 2, sizeof *req->inputs);
    if (!req->inputs)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < req->n_args; i++)
        req->inputs[n++] = req->args[i];
    size_t listed = 0;
    char *save = NULL;
    for (char *line = req->images_from ? strtok_r(req->list_text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
            line[--l] = '\0';
        if (l) {
            req->inputs[n++] = line;
            listed++;
        }
    }
    if (req->images_from && listed == 0)
        return ap_fail(err, AP_ERR_USAGE, "--images-from %s lists no inputs", req->images_from);
    if (n == 0)
        return ap_fail(err, AP_ERR_USAGE, "no inputs given");
    req->o.inputs = req->inputs;
    req->o.n_inputs = n;
    return 0;
}

void pack_request_set_key(pack_request *req, const ap_seckey *key)
{
    req->o.key = key;
    if (key && req->have_path && req->o.have) {   /* what the far side last loaded from this key on this channel */
        ap_pubkey signer;
        char id[2 * AP_KEYNUM_LEN + 1];
        ap_seckey_public(key, &signer);
        ap_pubkey_key_id(&signer, id);
        req->o.base_sequence = ap_have_loaded_sequence(&req->have, id, req->o.channel ? req->o.channel
                                                                                     : AP_DEFAULT_CHANNEL);
    }
}

int pack_request_prepare(pack_request *req, ap_error *err)
{
    if (check_combinations(req, err) < 0 || set_times(req, err) < 0 || load_have(req, err) < 0 ||
        collect_inputs(req, err) < 0)
        return -1;
    req->o.source_opts = &req->so;
    return 0;
}
