/* Outcomes of a measured candidate, one table for measurement (measure/), log records and the
 * database (logs/): measure/ produces them, logs/ writes them, and neither includes the other.
 * The codes are written to logs and databases: never renumber; a new outcome goes at the end. */
#ifndef TT_OUTCOME_H
#define TT_OUTCOME_H

/* X(NAME, code, text): TT_OUTCOME_NAME = code, and the text logs, summaries and the CLI print.
 * INVALID_SCHEDULE: the schedule does not apply (lowering); COMPILE_ERROR: the build failed or
 * crashed; RUNTIME_ERROR: load failure, the kernel returned -1, or a signal; WRONG_ANSWER: the
 * output differs from the reference; the timeouts: killed at the limit; DEVICE_ERROR: the RPC
 * device measuring it died or its connection broke during the candidate (no verdict on it). */
#define TT_OUTCOME_MAP(X)                                                                          \
    X(OK, 0, "none")                                                                               \
    X(INVALID_SCHEDULE, 1, "invalid schedule")                                                     \
    X(COMPILE_ERROR, 2, "compile error")                                                           \
    X(RUNTIME_ERROR, 3, "runtime error")                                                           \
    X(WRONG_ANSWER, 4, "wrong answer")                                                             \
    X(BUILD_TIMEOUT, 5, "build timeout")                                                           \
    X(RUN_TIMEOUT, 6, "run timeout")                                                               \
    X(UNKNOWN_ERROR, 7, "unknown")                                                                 \
    X(DEVICE_ERROR, 8, "device error")

/* The largest code, as a number the preprocessor can print (the database's CHECK is made from
 * it); a static_assert in logs/record.c keeps it equal to the table's last code. */
#define TT_OUTCOME_MAX 8

typedef enum {
#define TT_OUTCOME_ENUM_(name, code, text) TT_OUTCOME_##name = code,
    TT_OUTCOME_MAP(TT_OUTCOME_ENUM_)
#undef TT_OUTCOME_ENUM_
} tt_outcome;

/* How many outcomes the table holds (codes are 0 .. TT_OUTCOME_COUNT - 1). */
enum {
#define TT_OUTCOME_ONE_(name, code, text) +1
    TT_OUTCOME_COUNT = 0 TT_OUTCOME_MAP(TT_OUTCOME_ONE_)
#undef TT_OUTCOME_ONE_
};

#endif
