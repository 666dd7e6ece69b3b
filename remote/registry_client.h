/* registry_client.h: an HTTP client for the OCI distribution API (libcurl).
 *
 * One client talks to one registry host. It finds out on first use whether the
 * registry speaks https or (only where allowed) plain http, and which auth it
 * wants (`GET /v2/`), then authenticates each request: anonymous, HTTP basic,
 * or a bearer token fetched from the realm the registry names (with basic
 * credentials when there are some), one token per scope, refreshed on 401.
 *
 * Scheme rule (as skopeo's --tls-verify): https first, always. Plain http is
 * tried only when https fails at the TLS handshake (the server does not speak
 * TLS) and either tls_verify is false or the host is localhost / 127.0.0.1 /
 * [::1]. A certificate that does not verify is an error unless tls_verify is
 * false. Extra CAs: $SSL_CERT_FILE, $SSL_CERT_DIR, or a ca.crt in
 * /etc/containers/certs.d/HOST[:PORT]/ or /etc/docker/certs.d/HOST[:PORT]/.
 *
 * Credentials: opts->creds ("USER:PASSWORD"), else the "auths" entry for the
 * host in opts->authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json or
 * ~/.docker/config.json (base64 "auth" field). Secrets are wiped on free.
 *
 * Nothing is printed; every failure fills an ap_error naming the registry,
 * the request and what the registry said (status and errors[0].message). */
#ifndef AIRPACK_REGISTRY_CLIENT_H
#define AIRPACK_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/digest.h"
#include "../formats/error.h"
#include "../formats/stream.h"

#define REG_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REG_MANIFEST_MAX (4u << 20)   /* registries refuse larger manifests too */

typedef struct reg_client reg_client;

typedef struct {
    bool tls_verify;        /* verify certificates (default should be true) */
    const char *authfile;   /* Docker config file; NULL = the default places */
    const char *creds;      /* "USER:PASSWORD"; overrides the authfile */
} reg_client_opts;

/* host is "HOST[:PORT]" ("registry.example.com", "127.0.0.1:5000"). No network yet. */
reg_client *reg_client_open(const char *host, const reg_client_opts *opts, ap_error *err);
void reg_client_free(reg_client *c);
const char *reg_client_host(const reg_client *c);
/* GET /v2/ once: learns the scheme and the auth the registry wants, so an
 * unreachable registry or a bad certificate is known before any data moves. */
int reg_client_ping(reg_client *c, ap_error *err);
/* "https://HOST" or "http://HOST" once known, else NULL. */
const char *reg_client_base_url(const reg_client *c);

typedef struct {
    long status;            /* HTTP status of the final response */
    char *body;             /* NUL-terminated, at most max_body bytes (unless streamed to a sink) */
    size_t body_len;
    bool body_truncated;
    char *location;         /* Location header */
    char *content_type;
    char *digest;           /* Docker-Content-Digest header */
    char *www_authenticate;
} reg_response;

void reg_response_free(reg_response *r);

typedef struct {
    const char *method;     /* GET HEAD POST PUT PATCH DELETE */
    const char *url;        /* "/v2/..." (joined to the base URL) or an absolute URL (Location) */
    const char *scope;      /* bearer scope "repository:NAME:pull,push" (NULL = none) */
    const char *content_type;
    const char *accept;
    const void *body;       /* request body from memory (body_len bytes) ... */
    size_t body_len;
    int body_fd;            /* ... or from this fd (pread from offset 0), when >= 0 */
    uint64_t body_size;
    ap_sink_fn sink;        /* 2xx response bodies go here instead of resp->body */
    void *sink_ctx;
    size_t max_body;        /* cap for resp->body; 0 = 64 KiB */
} reg_request;

/* Initializes a request: no body, body_fd = -1. */
void reg_request_init(reg_request *rq, const char *method, const char *url, const char *scope);

/* Sends one request (pinging and authenticating as needed; retried once after
 * a 401 with fresh credentials). Returns 0 when an HTTP response arrived,
 * whatever its status; -1 (AP_ERR_TARGET) when none could be had. */
int reg_do(reg_client *c, const reg_request *rq, reg_response *resp, ap_error *err);

/* "HTTP 404 (BLOB_UNKNOWN: blob unknown to registry)" from a response. */
void reg_describe(const reg_response *r, char *out, size_t n);

/* The distribution API. Repositories are paths like "mirror/library/nginx". */
int reg_blob_exists(reg_client *c, const char *repo, const char *digest, bool *exists, ap_error *err);
/* Cross-repository mount; *mounted false when the registry would rather have an upload. */
int reg_blob_mount(reg_client *c, const char *repo, const char *digest, const char *from,
                   bool *mounted, ap_error *err);
/* POST an upload session, then one monolithic PUT ...&digest= of size bytes read from fd. */
int reg_blob_upload_fd(reg_client *c, const char *repo, const char *digest, int fd, uint64_t size,
                       ap_error *err);
/* GET a blob into a sink (for pulling); the caller verifies the digest. */
int reg_blob_get(reg_client *c, const char *repo, const char *digest, ap_sink_fn sink, void *ctx,
                 ap_error *err);
/* HEAD /v2/REPO/manifests/REF: *exists and, when it exists, its digest ("" if the registry did not say). */
int reg_manifest_digest(reg_client *c, const char *repo, const char *ref, bool *exists,
                        char digest[AP_DIGEST_LEN + 1], ap_error *err);
/* PUT the manifest bytes under REF (a tag or a digest); checks 201 and the digest the registry computed. */
int reg_manifest_put(reg_client *c, const char *repo, const char *ref, const char *media_type,
                     const void *buf, size_t len, ap_error *err);

#endif
