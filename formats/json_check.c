/* json_check.c: size, depth, duplicate and key checks for input JSON (see json_check.h). */
#include "json_check.h"

#include <string.h>

int ap_json_check_depth(const char *buf, size_t len, int max_depth, const char *what, ap_error *err)
{
    int depth = 0;
    size_t tokens = 0;      /* keys and values, about: each ',' ':' '[' '{' outside strings */
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++;            /* skip the escaped character, whatever it is */
            else if (c == '"')
                in_string = false;
            continue;
        }
        if ((c == ',' || c == ':' || c == '[' || c == '{') && ++tokens > AP_JSON_MAX_TOKENS)
            return ap_fail(err, AP_ERR_FORMAT, "%s: more than %u JSON keys and values (at byte %zu)", what,
                           AP_JSON_MAX_TOKENS, i);
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return ap_fail(err, AP_ERR_FORMAT,
                               "%s: JSON nested deeper than %d levels (at byte %zu)",
                               what, max_depth, i);
        } else if (c == ']' || c == '}') {
            if (depth > 0)
                depth--;
        }
    }
    return 0;
}

json_t *ap_json_load_strict(const char *buf, size_t len, unsigned max_size, int max_depth, const char *what,
                            ap_error *err)
{
    if (len > max_size) {
        ap_fail(err, AP_ERR_FORMAT, "%s: %zu bytes, over the %u MiB limit", what, len, max_size >> 20);
        return NULL;
    }
    if (ap_json_check_depth(buf, len, max_depth, what, err) < 0)
        return NULL;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        ap_fail(err, AP_ERR_FORMAT, "%s: invalid JSON at byte %d: %s", what, jerr.position, jerr.text);
    return root;
}

int ap_json_check_keys(json_t *obj, const char *const *keys, size_t n, const char *where, ap_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        (void)v;
        if (!ap_str_in_list(k, keys, n))
            return ap_fail(err, AP_ERR_FORMAT, "%s: unknown key \"%.100s\"", where, k);
    }
    return 0;
}

bool ap_str_in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}
