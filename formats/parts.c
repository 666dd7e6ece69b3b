/* parts.c: see parts.h. */
#include "parts.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle_index.h"
#include "parity.h"

int ap_parse_split_size(const char *s, uint64_t *out, const char *what, ap_error *err)
{
    const char *p = s;
    uint64_t v = 0;
    if (!s || !*s)
        return ap_fail(err, AP_ERR_USAGE, "%s takes a size such as 4G, 4480M or 700M, not an empty string", what);
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return ap_fail(err, AP_ERR_USAGE, "%s %s: too large", what, s);
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (p == s)
        return ap_fail(err, AP_ERR_USAGE, "%s takes a size such as 4G, 4480M or 700M, not '%s'", what, s);
    unsigned shift = 0;
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    default:
        return ap_fail(err, AP_ERR_USAGE,
                       "%s '%s': the suffix must be K, M or G (powers of 1024), as in 4G, 4480M or 700M", what, s);
    }
    if (*p)
        return ap_fail(err, AP_ERR_USAGE,
                       "%s '%s': the suffix must be K, M or G (powers of 1024), as in 4G, 4480M or 700M", what, s);
    if (shift && v > (UINT64_MAX >> shift))
        return ap_fail(err, AP_ERR_USAGE, "%s %s: too large", what, s);
    v <<= shift;
    if (v > (UINT64_MAX >> 2))
        return ap_fail(err, AP_ERR_USAGE, "%s %s: too large", what, s);
    if (v < AP_PARTS_MIN_SIZE)
        return ap_fail(err, AP_ERR_USAGE, "%s %s is %llu bytes: parts must be at least 1M (1048576 bytes)", what, s,
                       (unsigned long long)v);
    *out = v;
    return 0;
}

int ap_part_name(char *out, size_t n, const char *base, size_t index)
{
    if (index >= AP_PARTS_MAX)
        return -1;
    int w = snprintf(out, n, "%s.%03zu", base, index);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}

bool ap_part_split_name(const char *path, char *base_out, size_t n, size_t *index)
{
    size_t len = strlen(path);
    if (len < 5)
        return false;
    const char *dot = path + len - 4;
    if (dot[0] != '.' || !(dot[1] >= '0' && dot[1] <= '9') || !(dot[2] >= '0' && dot[2] <= '9') ||
        !(dot[3] >= '0' && dot[3] <= '9'))
        return false;
    if (dot[-1] == '/')
        return false;
    if (len - 4 >= n)
        return false;
    memcpy(base_out, path, len - 4);
    base_out[len - 4] = '\0';
    *index = (size_t)((dot[1] - '0') * 100 + (dot[2] - '0') * 10 + (dot[3] - '0'));
    return true;
}

static int add_list(json_t *arr, const ap_part_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_object();
        if (!p || json_object_set_new(p, "name", json_string(list[i].name)) != 0 ||
            json_object_set_new(p, "size", json_integer((json_int_t)list[i].size)) != 0 ||
            json_object_set_new(p, "sha256", json_string(list[i].sha256)) != 0 || json_array_append_new(arr, p) != 0)
            return -1;
    }
    return 0;
}

const ap_part_info *ap_parts_any(const ap_parts_manifest *m, size_t i)
{
    if (i < m->n_parts)
        return &m->parts[i];
    if (i - m->n_parts < m->n_parity)
        return &m->parity[i - m->n_parts];
    return NULL;
}

bool ap_parity_split_name(const char *path, char *base_out, size_t n, size_t *index)
{
    size_t len = strlen(path);
    if (len < 5)
        return false;
    const char *dot = path + len - 4;
    if (dot[0] != '.' || dot[1] != 'p' || !(dot[2] >= '0' && dot[2] <= '9') || !(dot[3] >= '0' && dot[3] <= '9'))
        return false;
    if (dot[-1] == '/' || len - 4 >= n)
        return false;
    memcpy(base_out, path, len - 4);
    base_out[len - 4] = '\0';
    *index = (size_t)((dot[2] - '0') * 10 + (dot[3] - '0'));
    return true;
}

char *ap_parts_write(const ap_parts_manifest *m, size_t *len, ap_error *err)
{
    json_t *o = json_object();
    json_t *parts = json_array();
    bool ok = o && parts;
    int version = m->n_parity ? AP_PARTS_FORMAT_VERSION_PARITY : AP_PARTS_FORMAT_VERSION;
    ok = ok && json_object_set_new(o, "airpack_parts", json_integer(version)) == 0;
    ok = ok && json_object_set_new(o, "bundle", json_string(m->bundle)) == 0;
    ok = ok && json_object_set_new(o, "size", json_integer((json_int_t)m->size)) == 0;
    ok = ok && json_object_set_new(o, "part_size", json_integer((json_int_t)m->part_size)) == 0;
    ok = ok && add_list(parts, m->parts, m->n_parts) == 0;
    ok = ok && json_object_set(o, "parts", parts) == 0;
    json_t *pp = NULL;
    if (ok && m->n_parity) {
        json_t *code = json_object();
        pp = json_array();
        ok = code && pp && json_object_set_new(code, "code", json_string(AP_PARITY_CODE)) == 0 &&
             json_object_set_new(code, "data_parts", json_integer((json_int_t)m->n_parts)) == 0 &&
             json_object_set_new(code, "parity_parts", json_integer((json_int_t)m->n_parity)) == 0;
        ok = ok && json_object_set_new(o, "parity", code) == 0;
        if (!ok && code)
            json_decref(code);
        ok = ok && add_list(pp, m->parity, m->n_parity) == 0 && json_object_set(o, "parity_parts", pp) == 0;
    }
    char *s = ok ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(pp);
    json_decref(parts);
    json_decref(o);
    if (!s) {
        ap_fail(err, AP_ERR_NOMEM, "out of memory writing the parts sidecar");
        return NULL;
    }
    size_t l = strlen(s);
    char *t = realloc(s, l + 2);
    if (!t) {
        free(s);
        ap_fail(err, AP_ERR_NOMEM, "out of memory writing the parts sidecar");
        return NULL;
    }
    t[l] = '\n';
    t[l + 1] = '\0';
    *len = l + 1;
    return t;
}

static int get_u64(json_t *o, const char *key, uint64_t *out, const char *where, ap_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s: \"%s\" must be a non-negative integer", where, key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_str(json_t *o, const char *key, char *out, size_t n, const char *where, ap_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s: \"%s\" must be a string", where, key);
    const char *s = json_string_value(v);
    size_t l = json_string_length(v);
    if (l == 0 || l >= n || strlen(s) != l)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s: \"%s\" is empty, too long or holds a NUL", where,
                       key);
    memcpy(out, s, l + 1);
    return 0;
}

static int only_keys(json_t *o, const char *const *keys, size_t n, const char *where, ap_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = false;
        for (size_t i = 0; i < n; i++)
            known |= !strcmp(k, keys[i]);
        if (!known)
            return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s: unknown key \"%.100s\"", where, k);
    }
    return 0;
}

static int parse_part(json_t *p, ap_part_info *pi, const char *where, ap_error *err)
{
    static const char *const part_keys[] = {"name", "size", "sha256"};
    if (!json_is_object(p))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s is not an object", where);
    if (only_keys(p, part_keys, 3, where, err) < 0 || get_str(p, "name", pi->name, sizeof pi->name, where, err) < 0 ||
        get_u64(p, "size", &pi->size, where, err) < 0 ||
        get_str(p, "sha256", pi->sha256, sizeof pi->sha256, where, err) < 0)
        return -1;
    if (!ap_hex_valid(pi->sha256))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s: sha256 is not 64 lowercase hex digits", where);
    return 0;
}

/* The code's parameters, checked against the data parts before anything is decoded. */
static int parse_parity(json_t *root, ap_parts_manifest *m, ap_error *err)
{
    static const char *const code_keys[] = {"code", "data_parts", "parity_parts"};
    json_t *code = json_object_get(root, "parity");
    json_t *list = json_object_get(root, "parity_parts");
    char name[64];
    uint64_t k = 0, n = 0;
    if (!json_is_object(code))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: \"parity\" is not an object");
    if (only_keys(code, code_keys, 3, "parity", err) < 0 || get_str(code, "code", name, sizeof name, "parity", err) < 0 ||
        get_u64(code, "data_parts", &k, "parity", err) < 0 || get_u64(code, "parity_parts", &n, "parity", err) < 0)
        return -1;
    if (strcmp(name, AP_PARITY_CODE))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: parity code \"%.60s\" is not known (this airpack reads %s)",
                       name, AP_PARITY_CODE);
    if (n == 0 || n > AP_PARITY_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: parity_parts %llu is out of range (1 to %d)",
                       (unsigned long long)n, AP_PARITY_MAX);
    if (k != m->n_parts)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: the parity code says %llu data parts, the sidecar lists %zu",
                       (unsigned long long)k, m->n_parts);
    if (k + n > 256)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %llu data and %llu parity parts: the code takes at most 256",
                       (unsigned long long)k, (unsigned long long)n);
    if (!json_is_array(list) || json_array_size(list) != n)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: \"parity_parts\" must list the %llu parity parts",
                       (unsigned long long)n);
    m->parity = calloc((size_t)n, sizeof *m->parity);
    if (!m->parity)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    m->n_parity = (size_t)n;
    for (size_t i = 0; i < m->n_parity; i++) {
        char where[48], want[sizeof m->parity[i].name];
        snprintf(where, sizeof where, "parity part %zu", i);
        ap_part_info *pi = &m->parity[i];
        if (parse_part(json_array_get(list, i), pi, where, err) < 0)
            return -1;
        if (ap_parity_name(want, sizeof want, m->bundle, i) < 0 || strcmp(want, pi->name))
            return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s is named \"%.100s\", expected \"%.100s\"", where,
                           pi->name, want);
        if (pi->size != m->part_size)
            return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s (%s) is %llu bytes; a parity part is part_size (%llu)",
                           where, pi->name, (unsigned long long)pi->size, (unsigned long long)m->part_size);
    }
    return 0;
}

static int parse_root(json_t *root, ap_parts_manifest *m, ap_error *err)
{
    static const char *const root_keys[] = {"airpack_parts", "bundle", "size", "part_size", "parts", "parity",
                                            "parity_parts"};
    if (!json_is_object(root))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: not a JSON object");
    json_t *ver = json_object_get(root, "airpack_parts");
    if (!json_is_integer(ver))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: no \"airpack_parts\" version");
    if (json_integer_value(ver) != AP_PARTS_FORMAT_VERSION && json_integer_value(ver) != AP_PARTS_FORMAT_VERSION_PARITY)
        return ap_fail(err, AP_ERR_FORMAT,
                       "parts sidecar: format version %lld is not known (this airpack reads %d and %d)",
                       (long long)json_integer_value(ver), AP_PARTS_FORMAT_VERSION, AP_PARTS_FORMAT_VERSION_PARITY);
    m->version = (int)json_integer_value(ver);
    bool with_parity = m->version == AP_PARTS_FORMAT_VERSION_PARITY;
    if (!with_parity && (json_object_get(root, "parity") || json_object_get(root, "parity_parts")))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: format version 1 has no parity parts");
    if (with_parity && (!json_object_get(root, "parity") || !json_object_get(root, "parity_parts")))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: format version 2 needs \"parity\" and \"parity_parts\"");
    if (only_keys(root, root_keys, with_parity ? 7 : 5, "top level", err) < 0 ||
        get_str(root, "bundle", m->bundle, sizeof m->bundle, "top level", err) < 0 ||
        get_u64(root, "size", &m->size, "top level", err) < 0 ||
        get_u64(root, "part_size", &m->part_size, "top level", err) < 0)
        return -1;
    if (strchr(m->bundle, '/') || !strcmp(m->bundle, ".") || !strcmp(m->bundle, ".."))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: bundle name \"%.100s\" is not a plain file name", m->bundle);
    if (m->part_size < AP_PARTS_MIN_SIZE || m->part_size > (UINT64_MAX >> 2))
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: part_size %llu is out of range",
                       (unsigned long long)m->part_size);
    json_t *parts = json_object_get(root, "parts");
    if (!json_is_array(parts) || json_array_size(parts) == 0 || json_array_size(parts) > AP_PARTS_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: \"parts\" must be an array of 1 to %d parts", AP_PARTS_MAX);
    size_t n = json_array_size(parts);
    m->parts = calloc(n, sizeof *m->parts);
    if (!m->parts)
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    m->n_parts = n;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        char where[32];
        snprintf(where, sizeof where, "part %zu", i);
        ap_part_info *pi = &m->parts[i];
        char want[sizeof pi->name];
        if (parse_part(json_array_get(parts, i), pi, where, err) < 0)
            return -1;
        if (ap_part_name(want, sizeof want, m->bundle, i) < 0 || strcmp(want, pi->name))
            return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s is named \"%.100s\", expected \"%.100s\"", where,
                           pi->name, want);
        bool last = i + 1 == n;
        if ((!last && pi->size != m->part_size) || (last && (pi->size == 0 || pi->size > m->part_size)))
            return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %s (%s) is %llu bytes; %s", where, pi->name,
                           (unsigned long long)pi->size,
                           last ? "the last part must be 1 to part_size bytes" : "every part but the last is part_size");
        sum += pi->size;
    }
    if (sum != m->size)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: the parts add up to %llu bytes, \"size\" says %llu",
                       (unsigned long long)sum, (unsigned long long)m->size);
    return with_parity ? parse_parity(root, m, err) : 0;
}

int ap_parts_parse(const char *buf, size_t len, ap_parts_manifest *out, ap_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > AP_PARTS_SIDECAR_MAX)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: %zu bytes, over the %u-byte limit", len,
                       AP_PARTS_SIDECAR_MAX);
    if (ap_json_check_depth(buf, len, 4, "parts sidecar", err) < 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ap_fail(err, AP_ERR_FORMAT, "parts sidecar: not valid JSON: %s (line %d)", jerr.text, jerr.line);
    int rc = parse_root(root, out, err);
    json_decref(root);
    if (rc < 0)
        ap_parts_free(out);
    return rc;
}

int ap_parts_copy(ap_parts_manifest *dst, const ap_parts_manifest *src, ap_error *err)
{
    *dst = *src;
    dst->parts = calloc(src->n_parts ? src->n_parts : 1, sizeof *dst->parts);
    dst->parity = src->n_parity ? calloc(src->n_parity, sizeof *dst->parity) : NULL;
    if (!dst->parts || (src->n_parity && !dst->parity)) {
        ap_parts_free(dst);
        return ap_fail(err, AP_ERR_NOMEM, "out of memory");
    }
    if (src->n_parts)
        memcpy(dst->parts, src->parts, src->n_parts * sizeof *dst->parts);
    if (src->n_parity)
        memcpy(dst->parity, src->parity, src->n_parity * sizeof *dst->parity);
    return 0;
}

void ap_parts_free(ap_parts_manifest *m)
{
    if (!m)
        return;
    free(m->parts);
    m->parts = NULL;
    m->n_parts = 0;
    free(m->parity);
    m->parity = NULL;
    m->n_parity = 0;
}

int ap_parts_locate(const ap_parts_manifest *m, uint64_t offset, size_t *index, uint64_t *offset_in_part)
{
    uint64_t start = 0;
    for (size_t i = 0; i < m->n_parts; i++) {
        if (offset < start + m->parts[i].size) {
            *index = i;
            *offset_in_part = offset - start;
            return 0;
        }
        start += m->parts[i].size;
    }
    return -1;
}

char *ap_read_small_file(const char *path, size_t max, size_t *len, bool *missing, ap_error *err)
{
    if (missing)
        *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (missing && errno == ENOENT)
            *missing = true;
        ap_fail_errno(err, AP_ERR_IO, "cannot open %s", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        ap_fail(err, AP_ERR_FORMAT, "%s is not a regular file", path);
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        ap_fail(err, AP_ERR_FORMAT, "%s: %llu bytes, over the %zu-byte limit", path, (unsigned long long)st.st_size,
                max);
        return NULL;
    }
    char *buf = malloc(max + 1);
    if (!buf) {
        close(fd);
        ap_fail(err, AP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t have = 0;
    for (;;) {
        ssize_t got = read(fd, buf + have, max + 1 - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            ap_fail_errno(err, AP_ERR_IO, "reading %s", path);
            free(buf);
            close(fd);
            return NULL;
        }
        if (got == 0)
            break;
        have += (size_t)got;
        if (have > max) {
            ap_fail(err, AP_ERR_FORMAT, "%s: over the %zu-byte limit", path, max);
            free(buf);
            close(fd);
            return NULL;
        }
    }
    close(fd);
    buf[have] = '\0';
    *len = have;
    return buf;
}

int ap_parts_read_signed(const char *base, const ap_pubkey *keys, size_t n_keys, ap_parts_manifest *m,
                         ap_sig_info *sig_info, int *missing, ap_error *err)
{
    char sc[4200], scsig[4200];
    snprintf(sc, sizeof sc, "%s%s", base, AP_PARTS_SUFFIX);
    snprintf(scsig, sizeof scsig, "%s%s", base, AP_PARTS_SIG_SUFFIX);
    memset(m, 0, sizeof *m);
    *missing = 0;
    size_t len = 0, sig_len = 0;
    bool gone = false;
    char *text = ap_read_small_file(sc, AP_PARTS_SIDECAR_MAX, &len, &gone, err);
    if (!text) {
        *missing = gone ? AP_PARTS_LIST_MISSING : 0;
        return -1;
    }
    char *sig = ap_read_small_file(scsig, AP_PARTS_SIG_MAX, &sig_len, &gone, err);
    int rc = -1;
    if (!sig) {
        *missing = gone ? AP_PARTS_SIG_MISSING : 0;
    } else if (ap_verify(keys, n_keys, text, len, sig, sig_len, sig_info, err) < 0) {
        ap_error_prefix(err, "%s", scsig);
        if (err->code != AP_ERR_NOMEM)
            err->code = AP_ERR_VERIFY;
    } else if (ap_parts_parse(text, len, m, err) < 0) {
        ap_error_prefix(err, "%s", sc);
        err->code = AP_ERR_VERIFY;
    } else {
        rc = 0;
    }
    free(text);
    free(sig);
    return rc;
}
