/* The tuning database, part two: reading records back (best k per workload and target), export
 * to a log, counts, and merging another database in. Writes are in db.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "logs/db_internal.h"

/* The columns every record query selects, in the order row_record reads them; an SQLite file
 * of schema version 1 opened read-only (the other side of a merge) has no device column. */
#define RECORD_COLUMNS_(device)                                                                    \
    "r.key, w.workload, r.target, r.steps, r.costs, r.error, r.error_msg, r.build_s, r.gflops,"    \
    " r.time, r.tuner, r.trial, r.seed, " device ", r.run_id"
#define RECORD_COLUMNS RECORD_COLUMNS_("r.device")
#define RECORD_COLUMNS_V1 RECORD_COLUMNS_("'' AS device")

/* The record of the current row, as a new tt_record; *run_id (may be NULL) its run (0: none). */
static int row_record(tt_db *db, tt_db_rows *rows, tt_record **out, int64_t *run_id)
{
    json_error_t jerr;
    json_t *costs = json_loads(tt_db_col_text(db, rows, 4), 0, &jerr);
    if (!json_is_array(costs)) {
        json_decref(costs);
        return tt_error_set("database '%s': record of \"%s\": costs column is not a JSON array",
                            db->path, tt_db_col_text(db, rows, 0));
    }
    size_t n = json_array_size(costs);
    double *values = malloc((n ? n : 1) * sizeof(double));
    if (!values) {
        json_decref(costs);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "database '%s': out of memory", db->path);
    }
    for (size_t i = 0; i < n; i++)
        values[i] = json_number_value(json_array_get(costs, i));
    json_decref(costs);
    tt_record r = {
        .key = tt_db_col_text(db, rows, 0),
        .workload = tt_db_col_text(db, rows, 1),
        .target = tt_db_col_text(db, rows, 2),
        .steps = tt_db_col_text(db, rows, 3),
        .costs = values,
        .n_costs = n,
        .error = (int)tt_db_col_int(db, rows, 5),
        .error_msg = tt_db_col_text(db, rows, 6),
        .build_s = tt_db_col_real(db, rows, 7),
        .gflops = tt_db_col_real(db, rows, 8),
        .time = tt_db_col_text(db, rows, 9),
        .tuner = tt_db_col_text(db, rows, 10),
        .trial = tt_db_col_int(db, rows, 11),
        .seed = tt_db_col_int(db, rows, 12),
        .device = tt_db_col_text(db, rows, 13),
    };
    if (run_id)
        *run_id = tt_db_col_null(db, rows, 14) ? 0 : tt_db_col_int(db, rows, 14);
    int rc = tt_record_copy(&r, out);
    free(values);
    return rc;
}

typedef int (*row_visit)(const tt_record *r, int64_t run_id, void *ctx);

/* Reads rows to the end, handing each row's record to visit; frees rows. */
static int each_record(tt_db *db, tt_db_rows *rows, row_visit visit, void *ctx)
{
    int rc;
    while ((rc = tt_db_next(db, rows)) > 0) {
        tt_record *r;
        int64_t run_id;
        if (row_record(db, rows, &r, &run_id)) {
            rc = -1;
            break;
        }
        int stop = visit(r, run_id, ctx);
        tt_record_free(r);
        if (stop) {
            rc = -1;
            break;
        }
    }
    tt_db_rows_free(db, rows);
    return rc < 0 ? -1 : 0;
}

/* The best k (0: all) error-free records per (key, target): the window numbers each group's
 * records by cost; the index on (key, target, cost) serves it. */
static int query_best(tt_db *db, const char *key, const char *target, size_t k, tt_db_rows **out)
{
#define BEST_SQL(columns)                                                                          \
    "SELECT " columns " FROM"                                                                      \
    " (SELECT *, row_number() OVER (PARTITION BY key, target ORDER BY cost, id) AS rank"           \
    "  FROM records WHERE error = 0 AND (?1 IS NULL OR key = ?1)"                                  \
    "  AND (?2 IS NULL OR target = ?2)) AS r"                                                      \
    " JOIN workloads w ON w.key = r.key"                                                           \
    " WHERE ?3 = 0 OR r.rank <= ?3"                                                                \
    " ORDER BY r.key, r.target, r.cost, r.id"
    tt_db_arg args[] = {TT_DB_TEXT(key), TT_DB_TEXT(target),
                        TT_DB_INT(k > (size_t)INT64_MAX ? 0 : (int64_t)k)};
    return tt_db_query(db, db->version < 2 ? BEST_SQL(RECORD_COLUMNS_V1) : BEST_SQL(RECORD_COLUMNS),
                       args, 3, out);
#undef BEST_SQL
}

/* Every record, errors included, in insertion order. */
static int query_all(tt_db *db, tt_db_rows **out)
{
#define ALL_SQL(columns)                                                                           \
    "SELECT " columns " FROM records r JOIN workloads w ON w.key = r.key ORDER BY r.id"
    return tt_db_query(db, db->version < 2 ? ALL_SQL(RECORD_COLUMNS_V1) : ALL_SQL(RECORD_COLUMNS),
                       NULL, 0, out);
#undef ALL_SQL
}

typedef struct {
    tt_record **records;
    size_t n, cap;
} record_list;

static int keep(const tt_record *r, int64_t run_id, void *ctx)
{
    (void)run_id;
    record_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        tt_record **grown = realloc(l->records, cap * sizeof *grown);
        if (!grown)
            return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory (%zu records)", l->n);
        l->records = grown;
        l->cap = cap;
    }
    if (tt_record_copy(r, &l->records[l->n]))
        return -1;
    l->n++;
    return 0;
}

TT_API int tt_db_best(tt_db *db, const char *key, const char *target, size_t k, tt_record ***out,
                      size_t *n)
{
    *out = NULL;
    *n = 0;
    tt_db_rows *rows;
    if (query_best(db, key, target, k, &rows))
        return -1;
    record_list l = {0};
    if (each_record(db, rows, keep, &l)) {
        tt_record_array_free(l.records, l.n);
        return -1;
    }
    *out = l.records;
    *n = l.n;
    return 0;
}

/* ---- export ---- */

typedef struct {
    FILE *f;
    size_t written;
} export_state;

static int write_line(const tt_record *r, int64_t run_id, void *ctx)
{
    (void)run_id;
    export_state *s = ctx;
    char *line;
    if (tt_record_encode(r, &line))
        return -1;
    size_t len = strlen(line);
    size_t done = fwrite(line, 1, len, s->f);
    free(line);
    if (done != len)
        return tt_error_set("write failed: %s", strerror(errno));
    s->written++;
    return 0;
}

TT_API int tt_db_export(tt_db *db, const char *path, size_t best_k, size_t *written)
{
    if (written)
        *written = 0;
    /* Written beside the target and renamed over it: a reader never sees half an export. */
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "cannot export to '%s': out of memory", path);
    snprintf(tmp, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return tt_error_set("cannot export to '%s': %s", path, strerror(err));
    }
    fchmod(fd, 0644);
    export_state s = {.f = fdopen(fd, "w")};
    if (!s.f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return tt_error_set("cannot export to '%s': %s", path, strerror(errno));
    }
    tt_db_rows *rows = NULL;
    /* One read snapshot: the export is consistent even while tuners keep writing. */
    int rc = tt_db_begin_read(db);
    if (rc == 0)
        rc = best_k > 0 ? query_best(db, NULL, NULL, best_k, &rows) : query_all(db, &rows);
    if (rc == 0)
        rc = each_record(db, rows, write_line, &s);
    if (rc == 0)
        rc = tt_db_commit(db);
    tt_db_rollback(db);
    if (rc == 0 && (fflush(s.f) != 0 || fsync(fileno(s.f)) != 0))
        rc = tt_error_set("write failed: %s", strerror(errno));
    if (fclose(s.f) != 0 && rc == 0)
        rc = tt_error_set("write failed: %s", strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = tt_error_set("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        tt_error_wrap("cannot export '%s' to '%s'", db->path, path);
    } else if (written) {
        *written = s.written;
    }
    free(tmp);
    return rc;
}

/* ---- stats ---- */

TT_API int tt_db_stats(tt_db *db, tt_db_counts *out)
{
    memset(out, 0, sizeof *out);
    tt_db_rows *rows = NULL;
    int rc = -1, step;
    if (tt_db_begin_read(db))
        return -1;
    if (tt_db_query(db,
                    "SELECT (SELECT count(*) FROM workloads),"
                    " (SELECT count(DISTINCT target) FROM records),"
                    " (SELECT count(*) FROM records),"
                    " (SELECT count(*) FROM records WHERE error != 0)",
                    NULL, 0, &rows) ||
        tt_db_next(db, rows) <= 0)
        goto done;
    out->workloads = tt_db_col_int(db, rows, 0);
    out->targets = tt_db_col_int(db, rows, 1);
    out->records = tt_db_col_int(db, rows, 2);
    out->errors = tt_db_col_int(db, rows, 3);
    tt_db_rows_free(db, rows);
    rows = NULL;
    if (tt_db_query(db, "SELECT status, count(*) FROM runs GROUP BY status", NULL, 0, &rows))
        goto done;
    while ((step = tt_db_next(db, rows)) > 0) {
        const char *status = tt_db_col_text(db, rows, 0);
        for (int i = 0; i < TT_RUN_STATUS_COUNT; i++)
            if (strcmp(status, tt_run_status_name(i)) == 0)
                out->runs[i] = tt_db_col_int(db, rows, 1);
    }
    if (step == 0)
        rc = tt_db_commit(db);
done:
    tt_db_rows_free(db, rows);
    tt_db_rollback(db);
    return rc;
}

/* ---- merge ---- */

/* Merging reads the other database through the same statements (either engine, only read) and
 * writes through tt_db_put_workload and tt_db_put_record in short transactions, so a laptop's
 * SQLite file merges into the farm's PostgreSQL and the farm into a release file alike. */

/* Records per write transaction. */
#define MERGE_BATCH 1000

/* other's run ids and the ids they have in db, ordered by old id. */
typedef struct {
    int64_t *old, *new;
    size_t n;
} run_map;

static int64_t map_run(const run_map *m, int64_t old)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->old[mid] < old)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n && m->old[lo] == old ? m->new[lo] : 0;
}

/* Fails when a key names different workloads in the two databases, before anything is written. */
static int check_workloads(tt_db *db, tt_db *other)
{
    tt_db_rows *rows;
    if (tt_db_query(other, "SELECT key, workload FROM workloads ORDER BY key", NULL, 0, &rows))
        return -1;
    int64_t conflicts = 0;
    int rc;
    while ((rc = tt_db_next(other, rows)) > 0) {
        tt_db_arg key = TT_DB_TEXT(tt_db_col_text(other, rows, 0));
        tt_db_rows *mine;
        if (tt_db_query(db, "SELECT workload FROM workloads WHERE key = ?1", &key, 1, &mine)) {
            rc = -1;
            break;
        }
        int found = tt_db_next(db, mine);
        if (found > 0 && strcmp(tt_db_col_text(db, mine, 0), tt_db_col_text(other, rows, 1)) != 0)
            conflicts++;
        tt_db_rows_free(db, mine);
        if (found < 0) {
            rc = -1;
            break;
        }
    }
    tt_db_rows_free(other, rows);
    if (rc < 0)
        return -1;
    if (conflicts > 0)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "%lld keys name different workloads in the two databases",
                             (long long)conflicts);
    return 0;
}

/* Adds other's workloads and runs in one transaction; a run is the same run when its op file,
 * target, tuner, trials asked and start time (milliseconds) agree. Fills *m. */
static int merge_runs(tt_db *db, tt_db *other, run_map *m)
{
    tt_db_rows *rows = NULL;
    int rc = -1;
    if (tt_db_begin(db))
        return -1;
    if (tt_db_query(other, "SELECT key, workload FROM workloads ORDER BY key", NULL, 0, &rows))
        goto done;
    while ((rc = tt_db_next(other, rows)) > 0)
        if (tt_db_put_workload(db, tt_db_col_text(other, rows, 0),
                               tt_db_col_text(other, rows, 1))) {
            rc = -1;
            break;
        }
    tt_db_rows_free(other, rows);
    rows = NULL;
    if (rc < 0)
        goto done;
    rc = -1;
    if (tt_db_query(other,
                    "SELECT id, op_file, target, tuner, trials_asked, trials_done, start_time,"
                    " end_time, status FROM runs ORDER BY id",
                    NULL, 0, &rows))
        goto done;
    size_t cap = 0;
    int step;
    while ((step = tt_db_next(other, rows)) > 0) {
        if (m->n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *o = realloc(m->old, cap * sizeof *o);
            if (o)
                m->old = o;
            int64_t *nw = o ? realloc(m->new, cap * sizeof *nw) : NULL;
            if (nw)
                m->new = nw;
            if (!o || !nw) {
                tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory (%zu runs)", m->n);
                goto done;
            }
        }
        tt_db_arg same[] = {
            TT_DB_TEXT(tt_db_col_text(other, rows, 1)), TT_DB_TEXT(tt_db_col_text(other, rows, 2)),
            TT_DB_TEXT(tt_db_col_text(other, rows, 3)), TT_DB_INT(tt_db_col_int(other, rows, 4)),
            TT_DB_TEXT(tt_db_col_text(other, rows, 6))};
        int64_t id = 0;
        if (tt_db_query_int(db,
                            "SELECT coalesce(min(id), 0) FROM runs WHERE op_file = ?1 AND"
                            " target = ?2 AND tuner = ?3 AND trials_asked = ?4 AND"
                            " start_time = ?5",
                            same, 5, &id))
            goto done;
        if (id == 0) {
            tt_db_arg args[] = {
                same[0],
                same[1],
                same[2],
                same[3],
                TT_DB_INT(tt_db_col_int(other, rows, 5)),
                same[4],
                TT_DB_TEXT(tt_db_col_null(other, rows, 7) ? NULL : tt_db_col_text(other, rows, 7)),
                TT_DB_TEXT(tt_db_col_text(other, rows, 8))};
            if (tt_db_query_int(db,
                                "INSERT INTO runs(op_file, target, tuner, trials_asked,"
                                " trials_done, start_time, end_time, status)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                                args, 8, &id))
                goto done;
        }
        m->old[m->n] = tt_db_col_int(other, rows, 0);
        m->new[m->n++] = id;
    }
    if (step == 0)
        rc = tt_db_commit(db);
done:
    tt_db_rows_free(other, rows);
    tt_db_rollback(db);
    return rc;
}

typedef struct {
    tt_db *db;
    const run_map *runs;
    size_t batch, batch_added, added;
} merge_state;

static int merge_one(const tt_record *r, int64_t run_id, void *ctx)
{
    merge_state *s = ctx;
    if (s->batch == 0 && tt_db_begin(s->db))
        return -1;
    int added;
    if (tt_db_put_record(s->db, r, run_id ? map_run(s->runs, run_id) : 0, &added))
        return -1;
    s->batch++;
    s->batch_added += (size_t)added;
    if (s->batch == MERGE_BATCH) {
        if (tt_db_commit(s->db))
            return -1;
        s->added += s->batch_added;
        s->batch = s->batch_added = 0;
    }
    return 0;
}

TT_API int tt_db_merge(tt_db *db, const char *other_path, size_t *added_out)
{
    if (added_out)
        *added_out = 0;
    tt_db *other;
    int rc = tt_db_is_uri(other_path) ? tt_db_pg_open(other_path, 1, &other)
                                      : tt_db_sqlite_open(other_path, 1, &other);
    char *name = tt_db_display_name(other_path);
    if (rc) {
        tt_error_wrap("cannot merge '%s'", name ? name : "?");
        free(name);
        return -1;
    }
    run_map runs = {0};
    merge_state s = {.db = db, .runs = &runs};
    rc = -1;
    if (db->identity && other->identity && strcmp(db->identity, other->identity) == 0) {
        tt_error_setc(TT_ERR_INVALID_ARGUMENT, "cannot merge '%s' into itself", name);
        goto done;
    }
    if (check_workloads(db, other) || merge_runs(db, other, &runs))
        goto fail;
    tt_db_rows *rows;
    if (query_all(other, &rows) || each_record(other, rows, merge_one, &s))
        goto fail;
    if (s.batch > 0) {
        if (tt_db_commit(db))
            goto fail;
        s.added += s.batch_added;
    }
    rc = 0;
    goto done;
fail:
    tt_db_rollback(db);
    tt_error_wrap("cannot merge '%s' into '%s' (%zu records added before the error)", name,
                  db->path, s.added);
done:
    if (rc == 0 && added_out)
        *added_out = s.added;
    free(runs.old);
    free(runs.new);
    free(name);
    tt_db_close(other);
    return rc;
}
