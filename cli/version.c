/* version.c: `airpack --version [--json]`: the version, how this binary was built, what it
 * can do, and the libraries it runs with (their versions asked at run time, next to the
 * headers it was compiled against: a dense bundle's zstd-blob form depends on libzstd's). */
#include <gnu/libc-version.h>
#include <stdio.h>
#include <string.h>

#include <archive.h>
#include <curl/curl.h>
#include <isa-l.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <sodium.h>
#include <zlib.h>
#include <zstd.h>
#ifdef AP_HAVE_LZMA
#include <lzma.h>
#endif

#include "commands.h"

#if defined(__x86_64__)
#define AP_ARCH "x86_64"
#elif defined(__aarch64__)
#define AP_ARCH "aarch64"
#else
#define AP_ARCH "other"
#endif

#ifdef AP_STATIC_BUILD
#define AP_LINKAGE "static"
#else
#define AP_LINKAGE "dynamic"
#endif

/* What this build can read, write and reach. Every transport is in both builds: the
 * static one links Debian's libcurl.a (static/absent_libs.c). */
static const char *const features[] = {
    "oci", "oci-archive", "docker-archive", "docker-daemon", "docker", "containerd",
    "containers-storage", "zstd", "gzip",
#ifdef AP_HAVE_LZMA
    "xz",
#endif
    "dense", "split", "parity", "delta", "minisign",
};

struct lib {
    const char *name;
    const char *run;   /* version reported by the library at run time */
    const char *built; /* version of the header compiled against */
};

#define STR_(x) #x
#define STR(x) STR_(x)
#define ISAL_VERSION_STR STR(ISAL_MAJOR_VERSION) "." STR(ISAL_MINOR_VERSION) "." STR(ISAL_PATCH_VERSION)

static size_t libraries(struct lib *l)
{
    size_t n = 0;
    const char *a = archive_version_string();
    if (!strncmp(a, "libarchive ", 11))
        a += 11;
    l[n++] = (struct lib){"libzstd", ZSTD_versionString(), ZSTD_VERSION_STRING};
    l[n++] = (struct lib){"zlib", zlibVersion(), ZLIB_VERSION};
    l[n++] = (struct lib){"libarchive", a, ARCHIVE_VERSION_ONLY_STRING};
    l[n++] = (struct lib){"libsodium", sodium_version_string(), SODIUM_VERSION_STRING};
#if JANSSON_VERSION_HEX >= 0x020d00
    l[n++] = (struct lib){"jansson", jansson_version_str(), JANSSON_VERSION};
#else
    l[n++] = (struct lib){"jansson", JANSSON_VERSION, JANSSON_VERSION};
#endif
    l[n++] = (struct lib){"libcrypto", OpenSSL_version(OPENSSL_VERSION_STRING), OPENSSL_VERSION_STR};
    l[n++] = (struct lib){"libcurl", curl_version_info(CURLVERSION_NOW)->version, LIBCURL_VERSION};
    /* ISA-L has no run-time version call; the static build carries static/isal_portable.c */
#ifdef AP_STATIC_BUILD
    l[n++] = (struct lib){"libisal", "portable", ISAL_VERSION_STR};
#else
    l[n++] = (struct lib){"libisal", ISAL_VERSION_STR, ISAL_VERSION_STR};
#endif
#ifdef AP_HAVE_LZMA
    l[n++] = (struct lib){"liblzma", lzma_version_string(), LZMA_VERSION_STRING};
#endif
    l[n++] = (struct lib){"glibc", gnu_get_libc_version(), STR(__GLIBC__) "." STR(__GLIBC_MINOR__)};
    return n;
}

static int print_json(const struct lib *l, size_t n)
{
    json_t *root = json_object(), *feat = json_array(), *libs = json_object();
    int bad = !root || !feat || !libs;
    for (size_t i = 0; !bad && i < sizeof features / sizeof features[0]; i++)
        bad |= json_array_append_new(feat, json_string(features[i]));
    for (size_t i = 0; !bad && i < n; i++)
        bad |= json_object_set_new(libs, l[i].name, json_pack("{s:s, s:s}", "version", l[i].run,
                                                               "built_with", l[i].built));
    bad = bad || json_object_set_new(root, "version", json_string(AIRPACK_VERSION)) ||
          json_object_set_new(root, "linkage", json_string(AP_LINKAGE)) ||
          json_object_set_new(root, "arch", json_string(AP_ARCH)) ||
          json_object_set_new(root, "features", feat) || json_object_set_new(root, "libraries", libs);
    if (bad || json_dumpf(root, stdout, JSON_INDENT(2)) < 0 || putchar('\n') == EOF || fflush(stdout)) {
        json_decref(root);
        fprintf(stderr, "airpack: --version --json: out of memory or standard output unwritable\n");
        return 2;
    }
    json_decref(root);
    return 0;
}

int cmd_version(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "airpack: --version takes only --json, not '%s'\n", argv[i]);
            return 2;
        }
    }
    struct lib l[16];
    size_t n = libraries(l);
    if (json)
        return print_json(l, n);
    printf("airpack %s (%s, %s)\nfeatures:", AIRPACK_VERSION, AP_LINKAGE, AP_ARCH);
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
        printf(" %s", features[i]);
    printf("\nlibraries (version at run time; the headers' where they differ):\n");
    for (size_t i = 0; i < n; i++)
    {
        int same = !strcmp(l[i].run, l[i].built);
        printf("  %-11s %s%s%s%s\n", l[i].name, l[i].run, same ? "" : " (built with ", same ? "" : l[i].built,
               same ? "" : ")");
    }
    return fflush(stdout) ? 2 : 0;
}
