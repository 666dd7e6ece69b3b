/* oci_json.c: OCI index JSON pieces shared by the oci and archive load targets. */
#include "oci_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "image_ref.h"

json_t *oci_platform_json(const char *platform)
{
    if (!platform || !*platform)
        return NULL;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", platform);
    char *os = buf, *arch = strchr(os, '/'), *variant = NULL;
    if (!arch)
        return NULL;
    *arch++ = '\0';
    if ((variant = strchr(arch, '/')))
        *variant++ = '\0';
    json_t *p = json_object();
    json_object_set_new(p, "architecture", json_string(arch));
    json_object_set_new(p, "os", json_string(os));
    if (variant && *variant)
        json_object_set_new(p, "variant", json_string(variant));
    return p;
}

json_t *oci_descriptor(const char *media_type, const char *digest, uint64_t size)
{
    json_t *d = json_object();
    json_object_set_new(d, "mediaType", json_string(media_type));
    json_object_set_new(d, "digest", json_string(digest));
    json_object_set_new(d, "size", json_integer((json_int_t)size));
    return d;
}

void oci_annotate_name(json_t *d, const char *full)
{
    json_t *a = json_object();
    json_object_set_new(a, OCI_NAME_ANNOTATION, json_string(full));
    json_object_set_new(a, OCI_REF_ANNOTATION, json_string(image_ref_tag(full)));
    json_object_set_new(d, "annotations", a);
}

void oci_annotate_full_name(json_t *d, const char *full)
{
    json_t *a = json_object();
    json_object_set_new(a, OCI_NAME_ANNOTATION, json_string(full));
    json_object_set_new(a, OCI_REF_ANNOTATION, json_string(full));
    json_object_set_new(d, "annotations", a);
}

bool oci_upgrade_ref_name(json_t *d)
{
    json_t *a = json_object_get(d, "annotations");
    const char *full = json_string_value(json_object_get(a, OCI_NAME_ANNOTATION));
    const char *ref = json_string_value(json_object_get(a, OCI_REF_ANNOTATION));
    if (!full || !ref || strcmp(ref, image_ref_tag(full)) || !strcmp(ref, full))
        return false;
    json_object_set_new(a, OCI_REF_ANNOTATION, json_string(full));
    return true;
}
