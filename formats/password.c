/* password.c: ap_read_password (minisign.h): AIRPACK_PASSWORD, else the first
 * line of a password file, else the terminal with echo off. Passwords are at most
 * AP_PASSWORD_MAX bytes (what minisign itself can read back) and are wiped. */
#include "minisign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#define NO_PASSWORD_MSG "no password: set AIRPACK_PASSWORD, use --password-file, or run on a terminal"

void ap_password_free(char *password)
{
    if (!password)
        return;
    sodium_memzero(password, strlen(password));
    free(password);
}

static char *password_copy(const char *s, size_t len, const char *source, ap_error *err)
{
    if (len > AP_PASSWORD_MAX) {
        ap_fail(err, AP_ERR_USAGE, "the password from %s is longer than %d bytes", source, AP_PASSWORD_MAX);
        return NULL;
    }
    if (memchr(s, '\0', len)) {
        ap_fail(err, AP_ERR_USAGE, "the password from %s holds a NUL byte", source);
        return NULL;
    }
    char *p = malloc(len + 1);
    if (!p) {
        ap_fail(err, AP_ERR_NOMEM, "reading the password: out of memory");
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static char *password_from_file(const char *path, ap_error *err)
{
    char buf[AP_PASSWORD_MAX + 3];   /* the password, "\r\n", one byte to see it is too long */
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ap_fail_errno(err, AP_ERR_IO, "reading password file %s", path);
        return NULL;
    }
    while (used < sizeof buf) {
        ssize_t r = read(fd, buf + used, sizeof buf - used);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ap_fail_errno(err, AP_ERR_IO, "reading password file %s", path);
            close(fd);
            sodium_memzero(buf, sizeof buf);
            return NULL;
        }
        if (memchr(buf + used, '\n', (size_t)r)) {
            used += (size_t)r;
            break;
        }
        used += (size_t)r;
    }
    close(fd);
    char *nl = memchr(buf, '\n', used);
    size_t len = nl ? (size_t)(nl - buf) : used;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    char *p = NULL;
    if (!nl && used == sizeof buf)
        ap_fail(err, AP_ERR_USAGE, "the password in %s is longer than %d bytes", path, AP_PASSWORD_MAX);
    else
        p = password_copy(buf, len, path, err);
    sodium_memzero(buf, sizeof buf);
    return p;
}

static void tty_write(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* One line from the terminal with echo off. 0 ok, -1 error (err set). */
static int tty_read_line(int fd, const char *prompt, char *buf, size_t cap, size_t *len, ap_error *err)
{
    struct termios saved, quiet;
    if (tcgetattr(fd, &saved) != 0)
        return ap_fail(err, AP_ERR_USAGE, NO_PASSWORD_MSG);
    quiet = saved;
    quiet.c_lflag &= (tcflag_t)~ECHO;
    quiet.c_lflag |= ECHONL;
    tty_write(fd, prompt);
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
        return ap_fail_errno(err, AP_ERR_IO, "turning off echo on the terminal");
    size_t used = 0;
    bool too_long = false, got_line = false;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (c == '\n') {
            got_line = true;
            break;
        }
        if (used < cap)
            buf[used++] = c;
        else
            too_long = true;
    }
    tcsetattr(fd, TCSAFLUSH, &saved);
    if (!got_line)
        return ap_fail(err, AP_ERR_USAGE, "no password was typed (end of input on the terminal)");
    if (too_long)
        return ap_fail(err, AP_ERR_USAGE, "the password is longer than %d bytes", AP_PASSWORD_MAX);
    if (used > 0 && buf[used - 1] == '\r')
        used--;
    *len = used;
    return 0;
}

static char *password_from_tty(const char *prompt, bool confirm, ap_error *err)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        ap_fail(err, AP_ERR_USAGE, NO_PASSWORD_MSG);
        return NULL;
    }
    char first[AP_PASSWORD_MAX], second[AP_PASSWORD_MAX];
    size_t first_len = 0, second_len = 0;
    char *p = NULL;
    if (tty_read_line(fd, prompt ? prompt : "Password: ", first, sizeof first, &first_len, err) != 0)
        goto out;
    if (confirm) {
        if (tty_read_line(fd, "Password (again): ", second, sizeof second, &second_len, err) != 0)
            goto out;
        if (first_len != second_len || sodium_memcmp(first, second, first_len) != 0) {
            ap_fail(err, AP_ERR_USAGE, "the two passwords do not match");
            goto out;
        }
    }
    p = password_copy(first, first_len, "the terminal", err);
out:
    close(fd);
    sodium_memzero(first, sizeof first);
    sodium_memzero(second, sizeof second);
    return p;
}

char *ap_read_password(const char *password_file, const char *prompt, bool confirm, ap_error *err)
{
    const char *env = getenv("AIRPACK_PASSWORD");
    if (env)
        return password_copy(env, strlen(env), "AIRPACK_PASSWORD", err);
    if (password_file)
        return password_from_file(password_file, err);
    return password_from_tty(prompt, confirm, err);
}
