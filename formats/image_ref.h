/* image_ref.h: image names the way Docker normalizes them.
 *
 * "nginx" -> "docker.io/library/nginx:latest", "me/app:1" -> "docker.io/me/app:1",
 * "localhost:5000/x" -> "localhost:5000/x:latest". The familiar form reverses
 * it for docker-archive RepoTags ("docker.io/library/nginx:1.25" -> "nginx:1.25"). */
#ifndef AIRPACK_IMAGE_REF_H
#define AIRPACK_IMAGE_REF_H

#include <stddef.h>

#include "error.h"

/* Writes the normalized full name into out. Refuses empty names, upper-case
 * repositories, spaces and control characters, digests ("@sha256:..."). */
int image_ref_normalize(const char *name, char *out, size_t n, ap_error *err);

/* The familiar form of a normalized name. */
void image_ref_familiar(const char *full, char *out, size_t n);

/* The tag of a normalized name ("1.25"), pointer into full. */
const char *image_ref_tag(const char *full);

#endif
