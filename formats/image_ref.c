#include "image_ref.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int domain_like(const char *first, size_t len)
{
    if (len == 9 && !strncmp(first, "localhost", 9))
        return 1;
    for (size_t i = 0; i < len; i++)
        if (first[i] == '.' || first[i] == ':' || isupper((unsigned char)first[i]))
            return 1;
    return 0;
}

int image_ref_normalize(const char *name, char *out, size_t n, ap_error *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return ap_fail(err, AP_ERR_USAGE, "image name '%s': must be 1 to 255 characters", name);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c >= 0x7f)
            return ap_fail(err, AP_ERR_USAGE, "image name '%s': has a space or control character", name);
    }
    if (strchr(name, '@'))
        return ap_fail(err, AP_ERR_USAGE, "image name '%s': digest references are not names", name);
    const char *slash = strchr(name, '/');
    char domain[256] = "docker.io";
    const char *rest = name;
    if (slash && domain_like(name, (size_t)(slash - name))) {
        snprintf(domain, sizeof domain, "%.*s", (int)(slash - name), name);
        rest = slash + 1;
    }
    /* the tag: after the last ':' that follows the last '/' */
    const char *last_slash = strrchr(rest, '/');
    const char *colon = strrchr(last_slash ? last_slash : rest, ':');
    char repo[256], tag[129];
    if (colon) {
        snprintf(repo, sizeof repo, "%.*s", (int)(colon - rest), rest);
        if (strlen(colon + 1) == 0 || strlen(colon + 1) > 128)
            return ap_fail(err, AP_ERR_USAGE, "image name '%s': bad tag", name);
        snprintf(tag, sizeof tag, "%s", colon + 1);
    } else {
        snprintf(repo, sizeof repo, "%s", rest);
        snprintf(tag, sizeof tag, "latest");
    }
    if (!repo[0] || repo[0] == '/' || repo[strlen(repo) - 1] == '/')
        return ap_fail(err, AP_ERR_USAGE, "image name '%s': bad repository", name);
    for (const char *p = repo; *p; p++)
        if (isupper((unsigned char)*p))
            return ap_fail(err, AP_ERR_USAGE, "image name '%s': repository must be lower case", name);
    int library = !strcmp(domain, "docker.io") && !strchr(repo, '/');
    int w = snprintf(out, n, "%s/%s%s:%s", domain, library ? "library/" : "", repo, tag);
    if (w < 0 || (size_t)w >= n)
        return ap_fail(err, AP_ERR_USAGE, "image name '%s': too long", name);
    return 0;
}

void image_ref_familiar(const char *full, char *out, size_t n)
{
    const char *p = full;
    if (!strncmp(p, "docker.io/library/", 18) && !strchr(p + 18, '/'))
        p += 18;
    else if (!strncmp(p, "docker.io/", 10))
        p += 10;
    snprintf(out, n, "%s", p);
}

const char *image_ref_tag(const char *full)
{
    const char *slash = strrchr(full, '/');
    const char *colon = strrchr(slash ? slash : full, ':');
    return colon ? colon + 1 : "latest";
}
