/* part_scan.c: see part_scan.h. */
#include "part_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parity.h"
#include "part_stripes.h"

void ap_parts_any_name(const char *base, const ap_parts_manifest *m, size_t i, char *out, size_t n)
{
    int rc = i < m->n_parts ? ap_part_name(out, n, base, i) : ap_parity_name(out, n, base, i - m->n_parts);
    if (rc < 0)
        snprintf(out, n, "%s.(part %zu)", base, i);
}

int ap_parts_scan(const char *base, const ap_parts_manifest *m, unsigned hash, ap_parts_damage *d,
                  volatile sig_atomic_t *cancel, ap_error *err)
{
    memset(d, 0, sizeof *d);
    size_t total = m->n_parts + m->n_parity;
    d->k = m->n_parts;
    d->n = m->n_parity;
    d->st = calloc(total + 1, sizeof *d->st);
    ap_stripe_file *files = calloc(total + 1, sizeof *files);
    char (*names)[4200] = calloc(total + 1, sizeof *names);
    size_t *which = calloc(total + 1, sizeof *which);
    int rc = 0;
    if (!d->st || !files || !names || !which) {
        rc = ap_fail(err, AP_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n_files = 0;
    for (size_t i = 0; i < total; i++) {
        const ap_part_info *pi = ap_parts_any(m, i);
        ap_part_status *s = &d->st[i];
        struct stat st;
        ap_parts_any_name(base, m, i, names[i], sizeof names[i]);
        if (stat(names[i], &st) < 0) {
            s->state = AP_PART_MISSING;
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            s->state = AP_PART_NOT_FILE;
            continue;
        }
        s->found_size = (uint64_t)st.st_size;
        if ((uint64_t)st.st_size != pi->size) {
            s->state = (uint64_t)st.st_size < pi->size ? AP_PART_TRUNCATED : AP_PART_TOO_LONG;
            continue;
        }
        s->state = AP_PART_UNCHECKED;
        if (!(hash & (i < m->n_parts ? AP_SCAN_HASH_DATA : AP_SCAN_HASH_PARITY)))
            continue;
        files[n_files] = (ap_stripe_file){.path = names[i], .size = pi->size, .hash = true};
        which[n_files++] = i;
    }
    if (n_files == 0)
        goto out;
    if (ap_stripes_run(files, n_files, NULL, NULL, 0, m->part_size, cancel, err) < 0) {
        rc = -1;
        goto out;
    }
    for (size_t f = 0; f < n_files; f++) {
        size_t i = which[f];
        if (!strcmp(files[f].hex, ap_parts_any(m, i)->sha256)) {
            d->st[i].state = AP_PART_GOOD;
            continue;
        }
        d->st[i].state = AP_PART_DAMAGED;
        for (size_t j = 0; j < total; j++)
            if (j != i && !strcmp(files[f].hex, ap_parts_any(m, j)->sha256)) {
                d->st[i].state = AP_PART_HOLDS_OTHER;
                d->st[i].other = j;
                break;
            }
    }
out:
    free(files);
    free(names);
    free(which);
    if (rc < 0)
        ap_parts_damage_free(d);
    return rc;
}

void ap_parts_damage_free(ap_parts_damage *d)
{
    if (!d)
        return;
    free(d->st);
    d->st = NULL;
}

size_t ap_parts_damage_bad(const ap_parts_damage *d, size_t *bad_data, size_t *bad_parity)
{
    size_t a = 0, b = 0;
    for (size_t i = 0; d->st && i < d->k + d->n; i++)
        if (ap_part_bad(d->st[i].state)) {
            if (i < d->k)
                a++;
            else
                b++;
        }
    if (bad_data)
        *bad_data = a;
    if (bad_parity)
        *bad_parity = b;
    return a + b;
}

static void what(const ap_parts_manifest *m, const ap_part_status *s, const char *base, char *out, size_t n)
{
    char other[4200];
    switch (s->state) {
    case AP_PART_MISSING: snprintf(out, n, "missing"); break;
    case AP_PART_NOT_FILE: snprintf(out, n, "not a regular file"); break;
    case AP_PART_TRUNCATED: snprintf(out, n, "truncated (%llu bytes)", (unsigned long long)s->found_size); break;
    case AP_PART_TOO_LONG: snprintf(out, n, "too long (%llu bytes)", (unsigned long long)s->found_size); break;
    case AP_PART_DAMAGED:
        snprintf(out, n, "damaged (its sha256 is not the listed one; a flipped byte, or a part of another bundle)");
        break;
    case AP_PART_HOLDS_OTHER: {
        ap_parts_any_name(base, m, s->other, other, sizeof other);
        const char *slash = strrchr(other, '/');
        snprintf(out, n, "holds the bytes of %.200s (swapped or misnamed)", slash ? slash + 1 : other);
        break;
    }
    default: snprintf(out, n, "good"); break;
    }
}

static void append(char *out, size_t n, const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(out);
    if (used + 1 < n)
        snprintf(out + used, n - used, fmt, a, b);
}

void ap_parts_damage_describe(const char *base, const ap_parts_manifest *m, const ap_parts_damage *d, char *out,
                              size_t n)
{
    size_t bd = 0, bp = 0, bad = ap_parts_damage_bad(d, &bd, &bp);
    snprintf(out, n, "%zu of %zu data parts and %zu of %zu parity parts are bad", bd, d->k, bp, d->n);
    if (bad == 0)
        return;
    char name[4200], why[4400];
    const char *sep = ": ";
    for (size_t i = 0; i < d->k + d->n; i++) {
        if (!ap_part_bad(d->st[i].state))
            continue;
        ap_parts_any_name(base, m, i, name, sizeof name);
        what(m, &d->st[i], base, why, sizeof why);
        append(out, n, "%s", sep, "");
        append(out, n, "%.300s %.500s", name, why);
        sep = ", ";
    }
    char tail[4600];
    if (bad <= d->n) {
        snprintf(tail, sizeof tail, "; repairable (%zu parity part%s)", d->n, d->n == 1 ? "" : "s");
        append(out, n, "%s%s", tail, "");
        return;
    }
    size_t bring = bad - d->n, listed = 0;
    snprintf(tail, sizeof tail, "; not repairable: %zu parity part%s rebuild at most %zu bad part%s; bring again ",
             d->n, d->n == 1 ? "" : "s", d->n, d->n == 1 ? "" : "s");
    append(out, n, "%s%s", tail, "");
    /* data parts first: with them back, the rest is rebuilt */
    for (int pass = 0; pass < 2 && listed < bring; pass++)
        for (size_t i = pass ? d->k : 0; i < (pass ? d->k + d->n : d->k) && listed < bring; i++) {
            if (!ap_part_bad(d->st[i].state))
                continue;
            ap_parts_any_name(base, m, i, name, sizeof name);
            append(out, n, "%s%.300s", listed ? ", " : "", name);
            listed++;
        }
    snprintf(tail, sizeof tail, " (or any other %zu of the bad parts), then 'airpack repair' rebuilds the rest",
             bring);
    append(out, n, "%s%s", tail, "");
}
