/* The tuning log on disk: crash-safe appends (one write and a sync per record) and a streaming
 * reader that tells a crash's truncated line (skipped, with a warning) from a corrupt one (an
 * error naming path:line). */
#include "logs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logs/json_text.h"

struct tt_log {
    int fd;
    char *path;
};

TT_API int tt_log_open_append(const char *path, tt_log **out)
{
    *out = NULL;
    if (!path || !*path)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot open log: empty path");
    /* O_RDWR rather than O_WRONLY: tt_log_append reads the last byte back. */
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return tt_error_setc(tt_error_category_from_errno(errno), "cannot open log '%s': %s", path,
                             strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot open log '%s': not a regular file",
                             path);
    }
    tt_log *log = calloc(1, sizeof *log);
    char *copy = strdup(path);
    if (!log || !copy) {
        free(log);
        free(copy);
        close(fd);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot open log '%s': out of memory", path);
    }
    log->fd = fd;
    log->path = copy;
    *out = log;
    return 0;
}

TT_API const char *tt_log_path(const tt_log *log)
{
    return log->path;
}

/* 1 when the file is non-empty and its last byte is not '\n': an earlier writer died mid-line. */
static int ends_mid_line(int fd, int *out)
{
    struct stat st;
    *out = 0;
    if (fstat(fd, &st) != 0)
        return -1;
    if (st.st_size == 0)
        return 0;
    char c;
    ssize_t n;
    do
        n = pread(fd, &c, 1, st.st_size - 1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    *out = n == 1 && c != '\n';
    return 0;
}

TT_API int tt_log_append(tt_log *log, const tt_record *r)
{
    char *line;
    if (tt_record_encode(r, &line))
        return tt_error_wrap("log '%s'", log->path);
    int mid_line;
    if (ends_mid_line(log->fd, &mid_line)) {
        free(line);
        return tt_error_setc(TT_ERR_IO, "log '%s': cannot read its end: %s", log->path,
                             strerror(errno));
    }
    /* The repairing '\n' and the record travel in the same write, so no reader or other writer
     * sees one without the other. */
    size_t len = strlen(line);
    char *buf = line;
    if (mid_line) {
        buf = malloc(len + 2);
        if (!buf) {
            free(line);
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "log '%s': out of memory", log->path);
        }
        buf[0] = '\n';
        memcpy(buf + 1, line, len + 1);
        len++;
        free(line);
    }
    /* One write(2) puts the whole line in the file: O_APPEND makes it land at the end even with
     * other writers. A short write (disk full, a signal) continues where it stopped; the reader
     * then sees a truncated line, as after a crash. */
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(log->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            free(buf);
            return tt_error_setc(TT_ERR_IO, "log '%s': write failed: %s", log->path, strerror(err));
        }
        done += (size_t)n;
    }
    free(buf);
    /* Durable before the next candidate starts (docs/ARCHITECTURE.md): a crash loses at most this
     * line. */
    int rc;
    do
        rc = fdatasync(log->fd);
    while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return tt_error_setc(TT_ERR_IO, "log '%s': sync failed: %s", log->path, strerror(errno));
    return 0;
}

TT_API int tt_log_close(tt_log *log)
{
    if (!log)
        return 0;
    int rc = close(log->fd);
    int err = errno;
    if (rc != 0)
        tt_error_setc(TT_ERR_IO, "log '%s': close failed: %s", log->path, strerror(err));
    free(log->path);
    free(log);
    return rc == 0 ? 0 : -1;
}

/* ---- reading ---- */

#define MAX_WARNINGS 20
/* Longer than any real record by orders of magnitude: beyond this a line is garbage. */
#define MAX_LINE (64u << 20)

static void add_warning(tt_log_stats *st, const char *path, const char *loc, const char *what)
{
    tt_sb b = {0};
    if (st->warnings)
        tt_sb_puts(&b, st->warnings);
    tt_sb_puts(&b, path);
    tt_sb_puts(&b, loc);
    tt_sb_puts(&b, what);
    tt_sb_puts(&b, "\n");
    if (b.failed) {
        tt_sb_free(&b);
        return; /* a lost warning is better than a failed read */
    }
    free(st->warnings);
    st->warnings = tt_sb_take(&b);
}

static void warn(tt_log_stats *st, const char *path, size_t line, const char *what)
{
    st->skipped++;
    st->warnings_count++;
    if (st->warnings_count > MAX_WARNINGS)
        return;
    char loc[32];
    snprintf(loc, sizeof loc, ":%zu: ", line);
    add_warning(st, path, loc, what);
}

static void finish_warnings(tt_log_stats *st, const char *path)
{
    if (st->warnings_count <= MAX_WARNINGS)
        return;
    char more[96];
    snprintf(more, sizeof more, "%zu more malformed lines skipped",
             st->warnings_count - MAX_WARNINGS);
    add_warning(st, path, ": ", more);
}

static int all_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

TT_API int tt_log_read(const char *path, int mode, tt_log_visit visit, void *ctx,
                       tt_log_stats *stats_out)
{
    tt_log_stats st = {0};
    FILE *f = fopen(path, "re");
    if (!f) {
        int err = errno;
        if (stats_out)
            *stats_out = st;
        return tt_error_setc(tt_error_category_from_errno(err), "cannot open log '%s': %s", path,
                             strerror(err));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    /* A malformed line is held back until the next non-empty line: if there is none, it was the
     * last line of the file, which a crash may have cut short, and only earns a warning. */
    char *pending = NULL;
    size_t pending_line = 0;
    errno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        st.lines++;
        size_t len = (size_t)n;
        int has_newline = len > 0 && line[len - 1] == '\n';
        if (has_newline)
            len--;
        if (all_blank(line, len))
            continue;
        if (pending) {
            tt_error_setc(TT_ERR_PARSE, "%s:%zu: %s", path, pending_line, pending);
            rc = -1;
            break;
        }
        tt_record *r = NULL;
        int truncated = 0;
        if (len > MAX_LINE) {
            tt_error_set("line longer than %u bytes", MAX_LINE);
        } else if (tt_record_decode_line(line, len, &r, &truncated) == 0) {
            int stop = visit ? visit(r, st.lines, ctx) : 0;
            tt_record_free(r);
            if (stop) {
                tt_error_wrap("%s:%zu", path, st.lines);
                rc = -1;
                break;
            }
            st.records++;
            continue;
        }
        const char *msg = tt_get_last_error();
        char what[512];
        if (!has_newline) {
            snprintf(what, sizeof what,
                     "truncated last line skipped (no newline at its end: a crash while "
                     "writing?): %s",
                     msg);
            warn(&st, path, st.lines, what);
        } else if (truncated) {
            snprintf(what, sizeof what, "truncated record skipped (a crash while writing?): %s",
                     msg);
            warn(&st, path, st.lines, what);
        } else if (mode == TT_LOG_TOLERANT) {
            snprintf(what, sizeof what, "malformed line skipped: %s", msg);
            warn(&st, path, st.lines, what);
        } else {
            pending = strdup(msg);
            pending_line = st.lines;
            if (!pending) {
                tt_error_setc(TT_ERR_OUT_OF_MEMORY, "%s:%zu: out of memory", path, st.lines);
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0 && ferror(f)) {
        tt_error_setc(TT_ERR_IO, "cannot read log '%s': %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && pending) {
        char what[600];
        snprintf(what, sizeof what, "unreadable last line skipped (a crash while writing?): %s",
                 pending);
        warn(&st, path, pending_line, what);
    }
    finish_warnings(&st, path);
    free(pending);
    free(line);
    fclose(f);
    if (stats_out)
        *stats_out = st;
    else
        tt_log_stats_free(&st);
    return rc;
}

typedef struct {
    tt_record **records;
    size_t n, cap;
} collect;

static int collect_one(const tt_record *r, size_t line, void *ctx)
{
    collect *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        tt_record **grown = realloc(c->records, cap * sizeof *grown);
        if (!grown)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory (%zu records)", c->n);
        c->records = grown;
        c->cap = cap;
    }
    if (tt_record_copy(r, &c->records[c->n]))
        return -1;
    c->n++;
    return 0;
}

TT_API int tt_log_read_all(const char *path, int mode, tt_record ***records, size_t *n,
                           tt_log_stats *stats)
{
    collect c = {0};
    *records = NULL;
    *n = 0;
    if (tt_log_read(path, mode, collect_one, &c, stats)) {
        tt_record_array_free(c.records, c.n);
        return -1;
    }
    *records = c.records;
    *n = c.n;
    return 0;
}

TT_API void tt_log_stats_free(tt_log_stats *stats)
{
    if (!stats)
        return;
    free(stats->warnings);
    stats->warnings = NULL;
}
