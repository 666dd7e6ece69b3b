/* absent_libs.c: linked only into airpack-static (make static), never into ./airpack.
 *
 * Debian's libcurl.a reaches, through its LDAP, RTMP and Negotiate code, three libraries
 * Debian ships no static archive of: libgssapi_krb5 (Kerberos), libsasl2 (LDAP SASL) and
 * libp11-kit (PKCS#11 tokens, through GnuTLS, which librtmp and libldap use). airpack
 * limits every curl handle to http and https (CURLOPT_PROTOCOLS_STR) with basic or bearer
 * authentication, and never reads a PKCS#11 URI, so none of this code is reached. The
 * functions below stand in for those libraries as a system without them would answer:
 * every call fails (GSS_S_UNAVAILABLE, SASL_NOMECH, no PKCS#11 module), none pretends to
 * succeed. The prototypes come from the libraries' own headers where Debian installs them
 * (gssapi, p11-kit), so the compiler checks them; libsasl2's header is not installed and
 * its prototypes are copied from sasl/sasl.h (cyrus-sasl 2.1). */
#define P11_KIT_FUTURE_UNSTABLE_API 1
#include <stddef.h>
#include <gssapi/gssapi.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pin.h>
#include <p11-kit/uri.h>

/* ---- libgssapi_krb5: no mechanism is available ---- */
gss_OID GSS_C_NT_HOSTBASED_SERVICE = GSS_C_NO_OID;

#define NO_GSS(min) do { if (min) *(min) = 0; return GSS_S_UNAVAILABLE; } while (0)
OM_uint32 gss_import_name(OM_uint32 *min, gss_buffer_t b, gss_OID t, gss_name_t *out)
{ (void)b; (void)t; if (out) *out = GSS_C_NO_NAME; NO_GSS(min); }
OM_uint32 gss_display_name(OM_uint32 *min, gss_name_t n, gss_buffer_t b, gss_OID *t)
{ (void)n; (void)b; (void)t; NO_GSS(min); }
OM_uint32 gss_display_status(OM_uint32 *min, OM_uint32 st, int type, gss_OID mech, OM_uint32 *ctx,
                             gss_buffer_t b)
{ (void)st; (void)type; (void)mech; if (ctx) *ctx = 0; if (b) { b->length = 0; b->value = NULL; } NO_GSS(min); }
OM_uint32 gss_init_sec_context(OM_uint32 *min, gss_cred_id_t cred, gss_ctx_id_t *ctx, gss_name_t target,
                               gss_OID mech, OM_uint32 flags, OM_uint32 time, gss_channel_bindings_t cb,
                               gss_buffer_t in, gss_OID *amech, gss_buffer_t out, OM_uint32 *rflags,
                               OM_uint32 *rtime)
{
    (void)cred; (void)ctx; (void)target; (void)mech; (void)flags; (void)time; (void)cb; (void)in;
    (void)amech; (void)rflags; (void)rtime;
    if (out) { out->length = 0; out->value = NULL; }
    NO_GSS(min);
}
OM_uint32 gss_inquire_context(OM_uint32 *min, gss_ctx_id_t ctx, gss_name_t *src, gss_name_t *dst,
                              OM_uint32 *life, gss_OID *mech, OM_uint32 *flags, int *local, int *open)
{ (void)ctx; (void)src; (void)dst; (void)life; (void)mech; (void)flags; (void)local; (void)open; NO_GSS(min); }
OM_uint32 gss_delete_sec_context(OM_uint32 *min, gss_ctx_id_t *ctx, gss_buffer_t out)
{ (void)out; if (ctx) *ctx = GSS_C_NO_CONTEXT; if (min) *min = 0; return GSS_S_COMPLETE; }
OM_uint32 gss_release_buffer(OM_uint32 *min, gss_buffer_t b)
{ if (b) { b->length = 0; b->value = NULL; } if (min) *min = 0; return GSS_S_COMPLETE; }
OM_uint32 gss_release_name(OM_uint32 *min, gss_name_t *n)
{ if (n) *n = GSS_C_NO_NAME; if (min) *min = 0; return GSS_S_COMPLETE; }
OM_uint32 gss_wrap(OM_uint32 *min, gss_ctx_id_t ctx, int conf, gss_qop_t qop, gss_buffer_t in, int *state,
                   gss_buffer_t out)
{ (void)ctx; (void)conf; (void)qop; (void)in; (void)state; (void)out; NO_GSS(min); }
OM_uint32 gss_unwrap(OM_uint32 *min, gss_ctx_id_t ctx, gss_buffer_t in, gss_buffer_t out, int *conf,
                     gss_qop_t *qop)
{ (void)ctx; (void)in; (void)out; (void)conf; (void)qop; NO_GSS(min); }

/* ---- libsasl2 (prototypes from sasl/sasl.h): no mechanism is available ---- */
#define SASL_NOMECH (-4)
typedef struct sasl_conn sasl_conn_t;
typedef struct sasl_callback sasl_callback_t;
typedef struct sasl_interact sasl_interact_t;
typedef void *sasl_mutex_alloc_t(void);
typedef int sasl_mutex_lock_t(void *mutex);
typedef int sasl_mutex_unlock_t(void *mutex);
typedef void sasl_mutex_free_t(void *mutex);
int sasl_client_init(const sasl_callback_t *callbacks);
int sasl_client_new(const char *service, const char *server, const char *local, const char *remote,
                    const sasl_callback_t *cb, unsigned flags, sasl_conn_t **pconn);
int sasl_client_start(sasl_conn_t *conn, const char *mechlist, sasl_interact_t **need, const char **out,
                      unsigned *outlen, const char **mech);
int sasl_client_step(sasl_conn_t *conn, const char *in, unsigned inlen, sasl_interact_t **need,
                     const char **out, unsigned *outlen);
int sasl_encode(sasl_conn_t *conn, const char *in, unsigned inlen, const char **out, unsigned *outlen);
int sasl_decode(sasl_conn_t *conn, const char *in, unsigned inlen, const char **out, unsigned *outlen);
void sasl_dispose(sasl_conn_t **pconn);
const char *sasl_errdetail(sasl_conn_t *conn);
const char *sasl_errstring(int err, const char *langlist, const char **outlang);
int sasl_getprop(sasl_conn_t *conn, int propnum, const void **pvalue);
int sasl_setprop(sasl_conn_t *conn, int propnum, const void *value);
const char **sasl_global_listmech(void);
void sasl_set_mutex(sasl_mutex_alloc_t *a, sasl_mutex_lock_t *l, sasl_mutex_unlock_t *u, sasl_mutex_free_t *f);

int sasl_client_init(const sasl_callback_t *callbacks) { (void)callbacks; return SASL_NOMECH; }
int sasl_client_new(const char *service, const char *server, const char *local, const char *remote,
                    const sasl_callback_t *cb, unsigned flags, sasl_conn_t **pconn)
{ (void)service; (void)server; (void)local; (void)remote; (void)cb; (void)flags; if (pconn) *pconn = NULL; return SASL_NOMECH; }
int sasl_client_start(sasl_conn_t *conn, const char *mechlist, sasl_interact_t **need, const char **out,
                      unsigned *outlen, const char **mech)
{ (void)conn; (void)mechlist; (void)need; (void)out; (void)outlen; (void)mech; return SASL_NOMECH; }
int sasl_client_step(sasl_conn_t *conn, const char *in, unsigned inlen, sasl_interact_t **need,
                     const char **out, unsigned *outlen)
{ (void)conn; (void)in; (void)inlen; (void)need; (void)out; (void)outlen; return SASL_NOMECH; }
int sasl_encode(sasl_conn_t *conn, const char *in, unsigned inlen, const char **out, unsigned *outlen)
{ (void)conn; (void)in; (void)inlen; (void)out; (void)outlen; return SASL_NOMECH; }
int sasl_decode(sasl_conn_t *conn, const char *in, unsigned inlen, const char **out, unsigned *outlen)
{ (void)conn; (void)in; (void)inlen; (void)out; (void)outlen; return SASL_NOMECH; }
void sasl_dispose(sasl_conn_t **pconn) { if (pconn) *pconn = NULL; }
const char *sasl_errdetail(sasl_conn_t *conn) { (void)conn; return "SASL is not part of airpack-static"; }
const char *sasl_errstring(int err, const char *langlist, const char **outlang)
{ (void)err; (void)langlist; if (outlang) *outlang = "en-us"; return "SASL is not part of airpack-static"; }
int sasl_getprop(sasl_conn_t *conn, int propnum, const void **pvalue)
{ (void)conn; (void)propnum; if (pvalue) *pvalue = NULL; return SASL_NOMECH; }
int sasl_setprop(sasl_conn_t *conn, int propnum, const void *value)
{ (void)conn; (void)propnum; (void)value; return SASL_NOMECH; }
const char **sasl_global_listmech(void) { return NULL; }
void sasl_set_mutex(sasl_mutex_alloc_t *a, sasl_mutex_lock_t *l, sasl_mutex_unlock_t *u, sasl_mutex_free_t *f)
{ (void)a; (void)l; (void)u; (void)f; }

/* ---- libp11-kit: no PKCS#11 module is configured, no URI parses ---- */
CK_FUNCTION_LIST **p11_kit_modules_load(const char *reserved, int flags)
{ (void)reserved; (void)flags; return NULL; }
CK_FUNCTION_LIST *p11_kit_module_load(const char *path, int flags) { (void)path; (void)flags; return NULL; }
CK_RV p11_kit_module_finalize(CK_FUNCTION_LIST *m) { (void)m; return CKR_GENERAL_ERROR; }
void p11_kit_module_release(CK_FUNCTION_LIST *m) { (void)m; }
char *p11_kit_module_get_name(CK_FUNCTION_LIST *m) { (void)m; return NULL; }
int p11_kit_module_get_flags(CK_FUNCTION_LIST *m) { (void)m; return 0; }
char *p11_kit_config_option(CK_FUNCTION_LIST *m, const char *option) { (void)m; (void)option; return NULL; }
const char *p11_kit_message(void) { return "PKCS#11 is not part of airpack-static"; }
const char *p11_kit_strerror(CK_RV rv) { (void)rv; return "PKCS#11 is not part of airpack-static"; }
size_t p11_kit_space_strlen(const unsigned char *s, size_t max)
{ while (max > 0 && s[max - 1] == ' ') max--; return max; }
char *p11_kit_space_strdup(const unsigned char *s, size_t max) { (void)s; (void)max; return NULL; }
P11KitPin *p11_kit_pin_new_for_string(const char *value) { (void)value; return NULL; }
P11KitPin *p11_kit_pin_request(const char *src, P11KitUri *uri, const char *desc, P11KitPinFlags flags)
{ (void)src; (void)uri; (void)desc; (void)flags; return NULL; }
P11KitPin *p11_kit_pin_file_callback(const char *src, P11KitUri *uri, const char *desc, P11KitPinFlags flags,
                                     void *data)
{ (void)src; (void)uri; (void)desc; (void)flags; (void)data; return NULL; }
int p11_kit_pin_register_callback(const char *src, p11_kit_pin_callback cb, void *data,
                                  p11_kit_pin_destroy_func destroy)
{ (void)src; (void)cb; (void)data; (void)destroy; return -1; }
void p11_kit_pin_unregister_callback(const char *src, p11_kit_pin_callback cb, void *data)
{ (void)src; (void)cb; (void)data; }
void p11_kit_pin_unref(P11KitPin *pin) { (void)pin; }
const unsigned char *p11_kit_pin_get_value(P11KitPin *pin, size_t *length)
{ (void)pin; if (length) *length = 0; return NULL; }
size_t p11_kit_pin_get_length(P11KitPin *pin) { (void)pin; return 0; }
P11KitUri *p11_kit_uri_new(void) { return NULL; }
void p11_kit_uri_free(P11KitUri *uri) { (void)uri; }
int p11_kit_uri_parse(const char *string, P11KitUriType type, P11KitUri *uri)
{ (void)string; (void)type; (void)uri; return P11_KIT_URI_UNEXPECTED; }
int p11_kit_uri_format(P11KitUri *uri, P11KitUriType type, char **string)
{ (void)uri; (void)type; if (string) *string = NULL; return P11_KIT_URI_UNEXPECTED; }
CK_ATTRIBUTE_PTR p11_kit_uri_get_attribute(P11KitUri *uri, CK_ATTRIBUTE_TYPE type) { (void)uri; (void)type; return NULL; }
CK_ATTRIBUTE_PTR p11_kit_uri_get_attributes(P11KitUri *uri, CK_ULONG *n)
{ (void)uri; if (n) *n = 0; return NULL; }
int p11_kit_uri_set_attribute(P11KitUri *uri, CK_ATTRIBUTE_PTR attr) { (void)uri; (void)attr; return P11_KIT_URI_UNEXPECTED; }
CK_INFO_PTR p11_kit_uri_get_module_info(P11KitUri *uri) { (void)uri; return NULL; }
CK_TOKEN_INFO_PTR p11_kit_uri_get_token_info(P11KitUri *uri) { (void)uri; return NULL; }
int p11_kit_uri_match_module_info(const P11KitUri *uri, const CK_INFO *info) { (void)uri; (void)info; return 0; }
int p11_kit_uri_match_token_info(const P11KitUri *uri, const CK_TOKEN_INFO *info) { (void)uri; (void)info; return 0; }
const char *p11_kit_uri_get_pin_source(const P11KitUri *uri) { (void)uri; return NULL; }
const char *p11_kit_uri_get_pin_value(const P11KitUri *uri) { (void)uri; return NULL; }
