/* The nightly job queue (docs/ARCHITECTURE.md, "Farms"): one job per submitted task, claimed by a
 * worker with SKIP LOCKED under a lease (expiry on the database's clock, a token that fences late
 * writes), and the records the workers measured, each written in its own transaction guarded by
 * the job's token. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "farm/farm_internal.h"
#include "ir/opjson.h"
#include "logs/db.h"
#include "logs/log.h"
#include "logs/record.h"

/* The measure settings of an op file, as the JSON the worker rebuilds them from. */
static void measure_json(const tt_measure_opts *m, char *out, size_t size)
{
    snprintf(out, size,
             "{\"repeat\":%d,\"min_repeat_ms\":%.17g,\"timeout_s\":%.17g,\"flush_cache\":%s,"
             "\"check\":%s,\"threads\":%d}",
             m->repeat, m->min_repeat_ms, m->timeout_s, m->flush_cache ? "true" : "false",
             m->check ? "true" : "false", m->threads);
}

int tt_farm_submit(tt_farm *f, const tt_opfile *file, int64_t trials, const char *kind,
                   const char *target, int *added, int *existing)
{
    int n_added = 0, n_existing = 0;
    if (added)
        *added = 0;
    if (existing)
        *existing = 0;
    if (trials < 1)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "--trials: expected an integer >= 1");
    if (!kind || !kind[0])
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT, "--kind: a device kind is required");
    char budget[24], measure[512];
    snprintf(budget, sizeof budget, "%lld", (long long)trials);
    measure_json(&file->measure, measure, sizeof measure);
    if (tt_farm_begin(f))
        return -1;
    for (int i = 0; i < file->ntasks; i++) {
        const tt_task *t = &file->tasks[i];
        const char *params[] = {t->key, t->name, t->canonical_json, measure, target, kind, budget};
        PGresult *r = NULL;
        /* The unique (task_key, kind, target, trials), NULL targets equal, makes a repeated
         * submission add nothing. */
        if (tt_farm_exec(f, "submit a job",
                         "INSERT INTO farm_jobs (task_key, task_name, op, measure, target, kind,"
                         " trials) VALUES ($1, $2, $3, $4, $5, $6, $7::bigint)"
                         " ON CONFLICT DO NOTHING RETURNING id",
                         7, params, &r)) {
            tt_farm_rollback(f);
            return -1;
        }
        if (PQntuples(r) == 1)
            n_added++;
        else
            n_existing++;
        PQclear(r);
    }
    if (n_added && tt_farm_exec(f, "wake the workers", "NOTIFY farm", 0, NULL, NULL) != 0) {
        tt_farm_rollback(f);
        return -1;
    }
    if (tt_farm_commit(f, "submit jobs")) {
        tt_farm_rollback(f);
        return -1;
    }
    if (added)
        *added = n_added;
    if (existing)
        *existing = n_existing;
    return 0;
}

#define JOB_COLUMNS                                                                                \
    "id, task_key, task_name, op, measure, target, kind, trials, trials_done, best_gflops, state," \
    " coalesce(worker, ''), coalesce(devices, ''),"                                                \
    " coalesce(to_char(lease_until, 'YYYY-MM-DD HH24:MI:SS UTC'), ''),"                            \
    " state = 'running' AND lease_until <= now(), attempts, coalesce(error, '')"

static void job_clear(tt_farm_job *j)
{
    free(j->key);
    free(j->name);
    free(j->workload);
    free(j->measure);
    free(j->target);
    free(j->kind);
    free(j->state);
    free(j->worker);
    free(j->devices);
    free(j->lease_until);
    free(j->error);
}

static int job_read(const PGresult *r, int i, tt_farm_job *j)
{
    memset(j, 0, sizeof *j);
    j->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    j->key = tt_farm_text(r, i, 1, 0);
    j->name = tt_farm_text(r, i, 2, 0);
    j->workload = tt_farm_text(r, i, 3, 0);
    j->measure = tt_farm_text(r, i, 4, 0);
    j->target = tt_farm_text(r, i, 5, 1);
    j->kind = tt_farm_text(r, i, 6, 0);
    j->trials = strtoll(PQgetvalue(r, i, 7), NULL, 10);
    j->trials_done = strtoll(PQgetvalue(r, i, 8), NULL, 10);
    j->best_gflops = strtod(PQgetvalue(r, i, 9), NULL);
    j->state = tt_farm_text(r, i, 10, 0);
    j->worker = tt_farm_text(r, i, 11, 0);
    j->devices = tt_farm_text(r, i, 12, 0);
    j->lease_until = tt_farm_text(r, i, 13, 0);
    j->lease_expired = strcmp(PQgetvalue(r, i, 14), "t") == 0;
    j->attempts = atoi(PQgetvalue(r, i, 15));
    j->error = tt_farm_text(r, i, 16, 0);
    if (!j->key || !j->name || !j->workload || !j->measure ||
        (!PQgetisnull(r, i, 5) && !j->target) || !j->kind || !j->state || !j->worker ||
        !j->devices || !j->lease_until || !j->error) {
        job_clear(j);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return 0;
}

int tt_farm_job_claim(tt_farm *f, const char *worker, double ttl_s, tt_farm_job **job)
{
    *job = NULL;
    char secs[32], token[TT_FARM_TOKEN_LEN + 1];
    tt_farm_secs(ttl_s, secs);
    if (tt_farm_token_new(token))
        return -1;
    PGresult *r = NULL;
    /* A queued job, or a running one whose worker stopped renewing; only of a kind that has a
     * device outside quarantine, so that a claimed job can be measured. SKIP LOCKED: two
     * workers claiming at once get different jobs. */
    if (tt_farm_begin(f) ||
        tt_farm_exec(f, "claim a job",
                     "SELECT j.id FROM farm_jobs j WHERE (j.state = 'queued'"
                     " OR (j.state = 'running' AND j.lease_until <= now()))"
                     " AND EXISTS (SELECT 1 FROM farm_devices d WHERE d.kind = j.kind"
                     "             AND d.state <> 'quarantined')"
                     " ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
                     0, NULL, &r))
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return tt_farm_commit(f, "claim a job");
    }
    const char *params[] = {PQgetvalue(r, 0, 0), worker, secs, token};
    PGresult *u = NULL;
    if (tt_farm_exec(f, "claim a job",
                     "UPDATE farm_jobs SET state = 'running', worker = $2, devices = NULL,"
                     " lease_until = now() + make_interval(secs => $3::double precision),"
                     " lease_token = $4, attempts = attempts + 1, updated = now()"
                     " WHERE id = $1::bigint RETURNING " JOB_COLUMNS,
                     4, params, &u))
        goto fail;
    PQclear(r);
    r = u;
    tt_farm_job *j = calloc(1, sizeof *j);
    if (!j) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    if (job_read(r, 0, j)) {
        free(j);
        goto fail;
    }
    memcpy(j->token, token, sizeof token);
    PQclear(r);
    r = NULL;
    if (tt_farm_commit(f, "claim a job")) {
        tt_farm_job_free(j);
        goto fail;
    }
    *job = j;
    return 0;
fail:
    PQclear(r);
    tt_farm_rollback(f);
    return -1;
}

int tt_farm_job_renew(tt_farm *f, const char *token, double ttl_s)
{
    char secs[32];
    tt_farm_secs(ttl_s, secs);
    const char *params[] = {token, secs};
    return tt_farm_by_token(f, "renew a job lease",
                            "UPDATE farm_jobs SET updated = now(),"
                            " lease_until = now() + make_interval(secs => $2::double precision)"
                            " WHERE lease_token = $1 AND state = 'running'",
                            2, params);
}

int tt_farm_job_progress(tt_farm *f, const char *token, int64_t trials_done, double best_gflops,
                         const char *devices)
{
    char done[24], best[40];
    snprintf(done, sizeof done, "%lld", (long long)trials_done);
    snprintf(best, sizeof best, "%.17g", isfinite(best_gflops) ? best_gflops : 0);
    const char *params[] = {token, done, best, devices};
    return tt_farm_by_token(f, "record a job's progress",
                            "UPDATE farm_jobs SET updated = now(),"
                            " trials_done = GREATEST(trials_done, $2::bigint),"
                            " best_gflops = GREATEST(best_gflops, $3::double precision),"
                            " devices = coalesce($4, devices)"
                            " WHERE lease_token = $1 AND state = 'running'",
                            4, params);
}

int tt_farm_job_set_best(tt_farm *f, const char *token, double best_gflops)
{
    char best[40];
    snprintf(best, sizeof best, "%.17g", isfinite(best_gflops) ? best_gflops : 0);
    const char *params[] = {token, best};
    return tt_farm_by_token(
        f, "record a job's best",
        "UPDATE farm_jobs SET best_gflops = $2::double precision, updated = now()"
        " WHERE lease_token = $1 AND state = 'running'",
        2, params);
}

int tt_farm_job_finish(tt_farm *f, const char *token, const char *state, const char *summary)
{
    if (strcmp(state, "done") != 0 && strcmp(state, "failed") != 0 && strcmp(state, "queued") != 0)
        return tt_error_setc(TT_ERR_INVALID_ARGUMENT,
                             "job state '%s': expected done, failed or queued", state);
    const char *params[] = {token, state, summary};
    if (strcmp(state, "queued") == 0) /* given back: wake a waiting worker (at the commit) */
        return tt_farm_by_token(
            f, "finish a job",
            "WITH given AS (UPDATE farm_jobs SET state = 'queued', error = $3,"
            " updated = now(), lease_until = NULL, lease_token = NULL, worker = NULL"
            " WHERE lease_token = $1 AND state = 'running' AND $2 = 'queued'"
            " RETURNING id) SELECT pg_notify('farm', 'job') FROM given",
            3, params);
    return tt_farm_by_token(f, "finish a job",
                            "UPDATE farm_jobs SET state = $2, error = $3, updated = now(),"
                            " lease_until = NULL, lease_token = NULL,"
                            " worker = CASE WHEN $2 = 'queued' THEN NULL ELSE worker END"
                            " WHERE lease_token = $1 AND state = 'running'",
                            3, params);
}

int tt_farm_job_list(tt_farm *f, tt_farm_job **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    PGresult *r = NULL;
    if (tt_farm_exec(f, "list the jobs", "SELECT " JOB_COLUMNS " FROM farm_jobs ORDER BY id", 0,
                     NULL, &r))
        return -1;
    int rows = PQntuples(r);
    tt_farm_job *jobs = calloc(rows ? (size_t)rows : 1, sizeof *jobs);
    if (!jobs) {
        PQclear(r);
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < rows; i++)
        if (job_read(r, i, &jobs[i])) {
            PQclear(r);
            tt_farm_job_list_free(jobs, (size_t)i);
            return -1;
        }
    PQclear(r);
    *out = jobs;
    *n = (size_t)rows;
    return 0;
}

void tt_farm_job_list_free(tt_farm_job *jobs, size_t n)
{
    for (size_t i = 0; jobs && i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
}

void tt_farm_job_free(tt_farm_job *job)
{
    if (!job)
        return;
    job_clear(job);
    free(job);
}

int tt_farm_job_pending(tt_farm *f, int64_t *open, int64_t *waiting, double *next_expiry_s)
{
    PGresult *r = NULL;
    if (tt_farm_exec(f, "count the open jobs",
                     "SELECT count(*),"
                     " count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM farm_devices d"
                     "   WHERE d.kind = j.kind AND d.state <> 'quarantined')),"
                     " coalesce(extract(epoch FROM min(j.lease_until) FILTER"
                     "   (WHERE j.state = 'running') - now()), 0)"
                     " FROM farm_jobs j WHERE j.state IN ('queued', 'running')",
                     0, NULL, &r))
        return -1;
    if (open)
        *open = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (waiting)
        *waiting = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    if (next_expiry_s) {
        double s = strtod(PQgetvalue(r, 0, 2), NULL);
        *next_expiry_s = s > 0 ? s : 0;
    }
    PQclear(r);
    return 0;
}

int tt_farm_record_add(tt_db *db, const char *token, const tt_record *r, int *added)
{
    const char *params[] = {token};
    /* FOR SHARE holds the job row until the insert commits: a claim by another worker (which
     * updates the row) waits for it, then changes the token, so no write lands after a takeover. */
    if (tt_db_add_record_guarded(db, r, 0,
                                 "SELECT 1 FROM farm_jobs WHERE lease_token = $1"
                                 " AND state = 'running' AND lease_until > now() FOR SHARE",
                                 params, 1, added) == 0)
        return 0;
    if (tt_get_last_error_category() != TT_ERR_CONFLICT)
        return -1;
    tt_error_setc(TT_ERR_NOT_FOUND,
                  "store a record: lease lost (the token no longer holds the job)");
    return TT_FARM_LEASE_LOST;
}

typedef struct {
    const char *key, *target;
    FILE *out;
    int64_t n;
} export_filter;

static int export_visit(const tt_record *r, size_t line, void *ctx)
{
    (void)line;
    export_filter *x = ctx;
    if ((x->key && strcmp(r->key, x->key) != 0) || (x->target && strcmp(r->target, x->target) != 0))
        return 0;
    char *text = NULL;
    if (tt_record_encode(r, &text))
        return -1;
    int bad = fputs(text, x->out) < 0;
    free(text);
    if (bad)
        return tt_error_setc(TT_ERR_IO, "cannot write the exported records");
    x->n++;
    return 0;
}

int tt_farm_records_export(tt_db *db, const char *key, const char *target, const char *path,
                           int64_t *n)
{
    if (n)
        *n = 0;
    /* The database exports everything; the workload's lines are kept. */
    size_t len = strlen(path) + 8;
    char *all = malloc(len);
    if (!all)
        return tt_error_setc(TT_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(all, len, "%s.all", path);
    int rc = -1;
    export_filter x = {.key = key, .target = target};
    if (tt_db_export(db, all, 0, NULL) == 0) {
        x.out = fopen(path, "a");
        if (!x.out) {
            tt_error_setc(TT_ERR_IO, "cannot write '%s'", path);
        } else {
            rc = tt_log_read(all, TT_LOG_TOLERANT, export_visit, &x, NULL);
            if (fclose(x.out) != 0 && rc == 0)
                rc = tt_error_setc(TT_ERR_IO, "cannot write '%s'", path);
        }
    }
    unlink(all);
    free(all);
    if (rc == 0 && n)
        *n = x.n;
    return rc;
}
