/* run_tool.c: running an external tool (see run_tool.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "run_tool.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void run_tool_cmdline(char *const argv[], char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; argv[i] && used + 1 < n; i++) {
        int w = snprintf(out + used, n - used, "%s%s", i ? " " : "", argv[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int run_tool_write(int fd, const void *buf, size_t n, ap_error *err)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return ap_fail_errno(err, AP_ERR_TARGET, "writing to the tool's input");
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int tmpfile_fd(ap_error *err)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/airpack-out-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return ap_fail_errno(err, AP_ERR_TARGET, "cannot create a temporary file %s", path);
    unlink(path);
    return fd;
}

static void read_back(int fd, size_t max, char **out, size_t *len, bool tail)
{
    struct stat st;
    *out = NULL;
    *len = 0;
    if (fstat(fd, &st) < 0)
        return;
    size_t size = (size_t)st.st_size;
    size_t take = size < max ? size : max;
    off_t from = tail ? (off_t)(size - take) : 0;
    char *b = malloc(take + 1);
    if (!b)
        return;
    ssize_t got = pread(fd, b, take, from);
    if (got < 0)
        got = 0;
    b[got] = '\0';
    *out = b;
    *len = (size_t)got;
}

int run_tool(char *const argv[], run_feed_fn feed, void *feed_ctx, size_t out_max, run_result *res,
             ap_error *feed_err, ap_error *err)
{
    memset(res, 0, sizeof *res);
    int sv[2] = {-1, -1};
    int out_fd = tmpfile_fd(err);
    if (out_fd < 0)
        return -1;
    int err_fd = tmpfile_fd(err);
    if (err_fd < 0) {
        close(out_fd);
        return -1;
    }
    if (feed && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        close(out_fd);
        close(err_fd);
        return ap_fail_errno(err, AP_ERR_TARGET, "socketpair");
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out_fd);
        close(err_fd);
        if (feed) {
            close(sv[0]);
            close(sv[1]);
        }
        errno = e;
        return ap_fail_errno(err, AP_ERR_TARGET, "cannot start %s", argv[0]);
    }
    if (pid == 0) {
        int in = feed ? sv[1] : open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
            _exit(126);
        if (feed)
            shutdown(0, SHUT_WR);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (feed) {
        close(sv[1]);
        shutdown(sv[0], SHUT_RD);
        if (feed(feed_ctx, sv[0], feed_err) < 0 && feed_err && feed_err->code == AP_OK)
            feed_err->code = AP_ERR_TARGET;
        close(sv[0]);
    }
    int st = 0;
    pid_t w;
    do
        w = waitpid(pid, &st, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        close(out_fd);
        close(err_fd);
        return ap_fail_errno(err, AP_ERR_TARGET, "waiting for %s", argv[0]);
    }
    res->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    read_back(out_fd, out_max, &res->out, &res->out_len, false);
    char *e;
    size_t elen;
    read_back(err_fd, sizeof res->err_tail - 1, &e, &elen, true);
    if (e) {
        size_t k = 0;
        for (size_t i = 0; i < elen; i++) {
            unsigned char c = (unsigned char)e[i];
            if (c == '\n' || c == '\r' || c == '\t')
                c = ' ';
            if (c >= 0x20 && c < 0x7f && !(c == ' ' && k && res->err_tail[k - 1] == ' '))
                res->err_tail[k++] = (char)c;
        }
        while (k && res->err_tail[k - 1] == ' ')
            k--;
        res->err_tail[k] = '\0';
        free(e);
    }
    close(out_fd);
    close(err_fd);
    return 0;
}

void run_result_free(run_result *res)
{
    if (!res)
        return;
    free(res->out);
    res->out = NULL;
    res->out_len = 0;
}
