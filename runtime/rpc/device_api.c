/* The rpc.* functions a session offers the client, registered as globals in the session process
 * only: uploads into the session's work directory (names sanitised, total size capped), loading
 * them as "so" modules, remote arrays, device info, and the time evaluator that measures on the
 * device (docs/ARCHITECTURE.md "Measurement": warm-up, `number` grown to min_repeat_ms, raw
 * repeats). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../runtime_internal.h"
#include "session.h"
#include "tt/backend.h"

static char work_dir[PATH_MAX];
static uint64_t max_upload;

static int ret_value(tt_ret ret, tt_value v, int code)
{
    return tt_ret_set(ret, &v, &code, 1);
}

static int want(const char *fn, const int *codes, int n, int at_least, const char *sig)
{
    if (n < at_least)
        return tt_error_set("%s: %d arguments, expected %s", fn, n, sig);
    (void)codes;
    return 0;
}

static int arg_code(const char *fn, const int *codes, int i, int code, const char *what)
{
    if (codes[i] != code)
        return tt_error_set("%s: argument %d (%s) has type code %d, expected %d", fn, i, what,
                            codes[i], code);
    return 0;
}

/* A file name the client may use: one path component, no leading dot (so not "." or ".." and
 * no hidden files), at most 128 bytes of [A-Za-z0-9._+-]. */
static int check_name(const char *fn, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 128)
        return tt_error_set("%s: file name of %zu bytes, expected 1..128", fn, n);
    if (name[0] == '.')
        return tt_error_set("%s: file name \"%s\" starts with a dot", fn, name);
    if (strstr(name, "..") != NULL)
        return tt_error_set("%s: file name \"%s\" contains \"..\"", fn, name);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (ch == '/')
            return tt_error_set("%s: file name \"%s\" contains a '/'", fn, name);
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '+'))
            return tt_error_set("%s: file name \"%s\" contains byte 0x%02x, expected only "
                                "letters, digits and . _ - +",
                                fn, name, (unsigned char)ch);
    }
    return 0;
}

static void path_of(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", work_dir, name);
}

/* Bytes the files of the work directory hold now, except the one named skip. */
static uint64_t used_bytes(const char *skip)
{
    uint64_t total = 0;
    DIR *d = opendir(work_dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, skip) == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

/* rpc.upload(name: str, data: bytes, offset: int) -> int (the file's size after the write).
 * Chunks arrive in order: offset 0 creates or truncates, later offsets must equal the size. */
static int upload(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.upload";
    if (want(fn, codes, n, 3, "(name, data, offset)") || arg_code(fn, codes, 0, TT_STR, "name") ||
        arg_code(fn, codes, 1, TT_BYTES, "data") || arg_code(fn, codes, 2, TT_INT, "offset") ||
        check_name(fn, args[0].v_str))
        return -1;
    const char *name = args[0].v_str;
    const tt_bytes *data = args[1].v_handle;
    int64_t offset = args[2].v_int64;
    if (offset < 0)
        return tt_error_set("%s: offset %lld, expected >= 0", fn, (long long)offset);
    uint64_t end = (uint64_t)offset + data->size;
    if (used_bytes(name) + end > max_upload)
        return tt_error_set("%s: \"%s\" would bring the session's files to %llu bytes, over the "
                            "server's --max-upload-mb limit of %llu bytes",
                            fn, name, (unsigned long long)(used_bytes(name) + end),
                            (unsigned long long)max_upload);
    char path[PATH_MAX + 256];
    path_of(name, path, sizeof path);
    int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (offset == 0 ? O_CREAT | O_TRUNC : 0);
    int fd = open(path, flags, 0600);
    if (fd < 0)
        return tt_error_set("%s: cannot open \"%s\": %s", fn, name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != offset) {
        close(fd);
        return tt_error_set("%s: chunk at offset %lld of \"%s\", but the file has %lld bytes "
                            "(chunks must arrive in order)",
                            fn, (long long)offset, name, (long long)st.st_size);
    }
    size_t put = 0;
    while (put < data->size) {
        ssize_t w = pwrite(fd, data->data + put, data->size - put, offset + (off_t)put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return tt_error_set("%s: writing \"%s\": %s", fn, name, strerror(e));
        }
        put += (size_t)w;
    }
    close(fd);
    tt_value v = {.v_int64 = (int64_t)end};
    return ret_value(ret, v, TT_INT);
}

/* rpc.remove(name: str) */
static int remove_file(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.remove";
    if (want(fn, codes, n, 1, "(name)") || arg_code(fn, codes, 0, TT_STR, "name") ||
        check_name(fn, args[0].v_str))
        return -1;
    char path[PATH_MAX + 256];
    path_of(args[0].v_str, path, sizeof path);
    if (unlink(path) != 0)
        return tt_error_set("%s: cannot remove \"%s\": %s", fn, args[0].v_str, strerror(errno));
    return 0;
}

/* rpc.load_module(name: str) -> module (through the runtime's "so" loader) */
static int load_module(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.load_module";
    if (want(fn, codes, n, 1, "(name)") || arg_code(fn, codes, 0, TT_STR, "name") ||
        check_name(fn, args[0].v_str))
        return -1;
    char path[PATH_MAX + 256];
    path_of(args[0].v_str, path, sizeof path);
    tt_module m;
    if (tt_mod_load_from_file(path, "so", &m) != 0)
        return -1;
    tt_value v = {.v_handle = m};
    int rc = ret_value(ret, v, TT_MODULE);
    tt_mod_free(m);
    return rc;
}

/* rpc.module_get_function(module, name: str) -> function or null */
static int module_get_function(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.module_get_function";
    if (want(fn, codes, n, 2, "(module, name)") || arg_code(fn, codes, 0, TT_MODULE, "module") ||
        arg_code(fn, codes, 1, TT_STR, "name"))
        return -1;
    tt_func f;
    if (tt_mod_get_function(args[0].v_handle, args[1].v_str, 1, &f) != 0)
        return -1;
    tt_value v = {.v_handle = f};
    int rc = ret_value(ret, v, f ? TT_FUNC : TT_NULL);
    tt_func_free(f);
    return rc;
}

/* The array of (dtype, dim0, dim1, ...) arguments; caller frees. */
static int alloc_from_args(const char *fn, const tt_value *args, const int *codes, int n,
                           DLTensor **t)
{
    if (want(fn, codes, n, 1, "(dtype, dims...)") || arg_code(fn, codes, 0, TT_DTYPE, "dtype"))
        return -1;
    int64_t shape[32];
    if (n - 1 > 32)
        return tt_error_set("%s: %d dimensions, expected at most 32", fn, n - 1);
    for (int i = 1; i < n; i++) {
        if (arg_code(fn, codes, i, TT_INT, "a dimension") != 0)
            return -1;
        shape[i - 1] = args[i].v_int64;
    }
    return tt_array_alloc(shape, n - 1, args[0].v_type, (DLDevice){kDLCPU, 0}, t);
}

/* rpc.array_alloc(dtype, dim0, dim1, ...) -> array */
static int array_alloc(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    DLTensor *t;
    if (alloc_from_args("rpc.array_alloc", args, codes, n, &t) != 0)
        return -1;
    tt_value v = {.v_handle = t};
    int rc = ret_value(ret, v, TT_NDARRAY);
    tt_array_free(t);
    return rc;
}

/* Guarded arrays, for tests that kernels never read outside their buffers: the data is a mapping
 * of its own between two PROT_NONE pages, its end flush against the second (when its size is a
 * multiple of 64 bytes, the runtime's alignment; else up to 63 bytes before it), so a read past
 * the end faults. The ndarray's deleter would free() that data, so the session keeps a reference
 * to each guarded array (and its own data) until the session process ends. */
#define MAX_GUARDED 64
static struct {
    DLTensor *t;
    void *own_data;
} guarded[MAX_GUARDED];
static int nguarded;

/* rpc.array_alloc_guarded(dtype, dim0, dim1, ...) -> array */
static int array_alloc_guarded(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.array_alloc_guarded";
    if (nguarded == MAX_GUARDED)
        return tt_error_set("%s: %d guarded arrays already in this session, the most it keeps", fn,
                            MAX_GUARDED);
    DLTensor *t;
    if (alloc_from_args(fn, args, codes, n, &t) != 0)
        return -1;
    int64_t nbytes = tt_array_nbytes(t);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = ((size_t)nbytes + 63) / 64 * 64;
    body = (body + page - 1) / page * page;
    char *map = nbytes < 0 ? MAP_FAILED
                           : mmap(NULL, body + 2 * page, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        tt_array_free(t);
        return tt_error_set("%s: cannot map %zu bytes: %s", fn, body + 2 * page, strerror(errno));
    }
    if (mprotect(map, page, PROT_NONE) != 0 || mprotect(map + page + body, page, PROT_NONE) != 0) {
        int e = errno;
        munmap(map, body + 2 * page);
        tt_array_free(t);
        return tt_error_set("%s: mprotect: %s", fn, strerror(e));
    }
    guarded[nguarded].t = t;
    guarded[nguarded++].own_data = t->data;
    t->data = (void *)((uintptr_t)(map + page + body - (size_t)nbytes) & ~(uintptr_t)63);
    tt_value v = {.v_handle = t};
    return ret_value(ret, v, TT_NDARRAY); /* the session's reference stays in guarded[] */
}

static int array_range(const char *fn, const DLTensor *t, int64_t offset, uint64_t len)
{
    int64_t nb = tt_array_nbytes(t);
    if (nb < 0)
        return -1;
    if (offset < 0 || (uint64_t)offset > (uint64_t)nb || len > (uint64_t)nb - (uint64_t)offset)
        return tt_error_set("%s: bytes [%lld, %lld + %llu) are outside the array's %lld bytes", fn,
                            (long long)offset, (long long)offset, (unsigned long long)len,
                            (long long)nb);
    return 0;
}

/* rpc.array_copy_to(array, data: bytes, offset: int): client -> device */
static int array_copy_to(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.array_copy_to";
    if (want(fn, codes, n, 3, "(array, data, offset)") ||
        arg_code(fn, codes, 0, TT_NDARRAY, "array") || arg_code(fn, codes, 1, TT_BYTES, "data") ||
        arg_code(fn, codes, 2, TT_INT, "offset"))
        return -1;
    DLTensor *t = args[0].v_handle;
    const tt_bytes *b = args[1].v_handle;
    if (array_range(fn, t, args[2].v_int64, b->size) != 0)
        return -1;
    if (b->size)
        memcpy((char *)t->data + t->byte_offset + args[2].v_int64, b->data, b->size);
    return 0;
}

/* rpc.array_copy_from(array, offset: int, nbytes: int) -> bytes: device -> client */
static int array_copy_from(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.array_copy_from";
    if (want(fn, codes, n, 3, "(array, offset, nbytes)") ||
        arg_code(fn, codes, 0, TT_NDARRAY, "array") || arg_code(fn, codes, 1, TT_INT, "offset") ||
        arg_code(fn, codes, 2, TT_INT, "nbytes"))
        return -1;
    DLTensor *t = args[0].v_handle;
    int64_t nbytes = args[2].v_int64;
    if (nbytes < 0 || (uint64_t)nbytes > TT_RPC_CHUNK_BYTES)
        return tt_error_set("%s: nbytes %lld, expected 0..%u (copy larger arrays in chunks)", fn,
                            (long long)nbytes, TT_RPC_CHUNK_BYTES);
    if (array_range(fn, t, args[1].v_int64, (uint64_t)nbytes) != 0)
        return -1;
    tt_bytes b = {(const char *)t->data + t->byte_offset + args[1].v_int64, (size_t)nbytes};
    tt_value v = {.v_handle = &b};
    return ret_value(ret, v, TT_BYTES);
}

/* ---- device info ---- */

static void json_str(char *out, size_t cap, const char *s)
{
    size_t at = 0;
    for (; *s && at + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[at++] = '\\';
            out[at++] = (char)ch;
        } else if (ch < 0x20) {
            at += (size_t)snprintf(out + at, cap - at, "\\u%04x", ch);
        } else {
            out[at++] = (char)ch;
        }
    }
    out[at] = '\0';
}

/* The CPU's name from /proc/cpuinfo ("model name" on x86; on Arm the implementer and part). */
static void cpu_name(char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], impl[64] = "", part[64] = "";
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        val[strcspn(val, "\n")] = '\0';
        if (strncmp(line, "model name", 10) == 0 && out[0] == '\0')
            snprintf(out, cap, "%s", val);
        else if (strncmp(line, "CPU implementer", 15) == 0 && impl[0] == '\0')
            snprintf(impl, sizeof impl, "%s", val);
        else if (strncmp(line, "CPU part", 8) == 0 && part[0] == '\0')
            snprintf(part, sizeof part, "%s", val);
    }
    if (f != NULL)
        fclose(f);
    if (out[0] == '\0' && impl[0] != '\0')
        snprintf(out, cap, "implementer %s part %s", impl, part);
    if (out[0] == '\0') {
        struct utsname u;
        snprintf(out, cap, "%s", uname(&u) == 0 ? u.machine : "unknown");
    }
}

/* The CPU name LLVM knows for this machine, so the host compiles for what the device has. x86:
 * the micro-architecture level its features reach (x86-64-v4 has AVX-512, v3 AVX2 and FMA);
 * Arm: the core named by /proc/cpuinfo's implementer and part (Arm Ltd's cores), else "generic". */
static const char *llvm_cpu(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "x86-64-v4";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        return "x86-64-v3";
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt"))
        return "x86-64-v2";
    return "x86-64";
#elif defined(__aarch64__)
    static const struct {
        unsigned part;
        const char *name;
    } arm_cores[] = {
        {0xd03, "cortex-a53"},  {0xd04, "cortex-a35"},  {0xd05, "cortex-a55"},
        {0xd07, "cortex-a57"},  {0xd08, "cortex-a72"},  {0xd09, "cortex-a73"},
        {0xd0a, "cortex-a75"},  {0xd0b, "cortex-a76"},  {0xd0c, "neoverse-n1"},
        {0xd0d, "cortex-a77"},  {0xd40, "neoverse-v1"}, {0xd41, "cortex-a78"},
        {0xd44, "cortex-x1"},   {0xd46, "cortex-a510"}, {0xd47, "cortex-a710"},
        {0xd48, "cortex-x2"},   {0xd49, "neoverse-n2"}, {0xd4b, "cortex-a78c"},
        {0xd4d, "cortex-a715"}, {0xd4e, "cortex-x3"},   {0xd4f, "neoverse-v2"},
    };
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    unsigned impl = 0, part = 0;
    int have_impl = 0, have_part = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL && !(have_impl && have_part)) {
        const char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        if (!have_impl && strncmp(line, "CPU implementer", 15) == 0)
            have_impl = sscanf(colon + 1, "%x", &impl) == 1;
        else if (!have_part && strncmp(line, "CPU part", 8) == 0)
            have_part = sscanf(colon + 1, "%x", &part) == 1;
    }
    if (f != NULL)
        fclose(f);
    for (size_t i = 0; have_impl && impl == 0x41 && i < sizeof arm_cores / sizeof *arm_cores; i++)
        if (arm_cores[i].part == part)
            return arm_cores[i].name;
    return "generic";
#else
    return "generic";
#endif
}

char *tt_rpc_device_info_json(void)
{
#if defined(__x86_64__)
    const char *triple = "x86_64-linux-gnu";
#elif defined(__aarch64__)
    const char *triple = "aarch64-linux-gnu";
#else
    const char *triple = "unknown";
#endif
    char cpu[256], cpu_json[1600];
    cpu_name(cpu, sizeof cpu);
    json_str(cpu_json, sizeof cpu_json, cpu);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    char *out = malloc(2048);
    if (out == NULL)
        return NULL;
    snprintf(out, 2048,
             "{\"triple\": \"%s\", \"cpu\": \"%s\", \"target\": \"llvm -mtriple=%s -mcpu=%s\", "
             "\"cores\": %d, \"cpus_online\": %ld, \"runtime_version\": \"%s\", "
             "\"protocol_version\": %d}",
             triple, cpu_json, triple, llvm_cpu(), tt_backend_num_threads(), online, TT_VERSION,
             TT_RPC_PROTOCOL_VERSION);
    return out;
}

static int device_info(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    char *json = tt_rpc_device_info_json();
    if (json == NULL)
        return tt_error_set("rpc.device_info: out of memory");
    tt_value v = {.v_str = json};
    int rc = ret_value(ret, v, TT_STR);
    free(json);
    return rc;
}

/* ---- time evaluator ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Evicts the caches before a repeat by writing a buffer twice the last-level cache. */
static int flush_cache(void)
{
    static char *buf;
    static size_t size;
    if (buf == NULL) {
        long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (llc <= 0)
            llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
        size = llc > 0 ? (size_t)llc * 2 : (size_t)64 << 20;
        if (size > ((size_t)512 << 20))
            size = (size_t)512 << 20;
        buf = malloc(size);
        if (buf == NULL)
            return tt_error_set("rpc.time_evaluate: out of memory for the cache flush buffer");
    }
    for (size_t i = 0; i < size; i += 64)
        ((volatile char *)buf)[i] = (char)i;
    return 0;
}

static int run_n(tt_func f, const tt_value *args, const int *codes, int n, int64_t number)
{
    for (int64_t i = 0; i < number; i++) {
        if (tt_func_call(f, args, codes, n, NULL, NULL) != 0)
            return -1;
    }
    return 0;
}

/* One batch of `number` runs, the cache flushed before it when asked; *mean = seconds per run. */
static int timed_batch(tt_func f, const tt_value *args, const int *codes, int n, int64_t number,
                       int flush, double *mean)
{
    if (flush && flush_cache() != 0)
        return -1;
    double t0 = now_s();
    if (run_n(f, args, codes, n, number) != 0)
        return -1;
    *mean = (now_s() - t0) / (double)number;
    return 0;
}

/* rpc.time_evaluate(f, number, repeat, min_repeat_ms, flush_cache, stop_above_s, args...) ->
 * bytes: little-endian doubles [k, number, cost_1 .. cost_k], the mean seconds per run of k
 * repeats of `number` runs each. The protocol is the host's (docs/ARCHITECTURE.md
 * "Measurement"): a warm-up run, then batches with `number` grown until one lasts min_repeat_ms;
 * that batch is the first repeat. stop_above_s > 0: a batch whose mean is above it ends the
 * timing at once (k = 1), a candidate far slower than the best not being worth its repeats. */
static int time_evaluate(const tt_value *args, const int *codes, int n, tt_ret ret, void *res)
{
    const char *fn = "rpc.time_evaluate";
    if (want(fn, codes, n, 6,
             "(f, number, repeat, min_repeat_ms, flush_cache, stop_above_s, args...)") ||
        arg_code(fn, codes, 0, TT_FUNC, "f") || arg_code(fn, codes, 1, TT_INT, "number") ||
        arg_code(fn, codes, 2, TT_INT, "repeat") || arg_code(fn, codes, 4, TT_INT, "flush_cache"))
        return -1;
    if ((codes[3] != TT_FLOAT && codes[3] != TT_INT) ||
        (codes[5] != TT_FLOAT && codes[5] != TT_INT))
        return tt_error_set("%s: min_repeat_ms and stop_above_s must be numbers (type codes %d, "
                            "%d)",
                            fn, codes[3], codes[5]);
    tt_func f = args[0].v_handle;
    int64_t number = args[1].v_int64, repeat = args[2].v_int64;
    int flush = args[4].v_int64 != 0;
    double min_ms = codes[3] == TT_FLOAT ? args[3].v_float64 : (double)args[3].v_int64;
    double stop_above = codes[5] == TT_FLOAT ? args[5].v_float64 : (double)args[5].v_int64;
    if (number < 1 || repeat < 1 || repeat > 100000 || !(min_ms >= 0) || !(stop_above >= 0))
        return tt_error_set("%s: number = %lld, repeat = %lld, min_repeat_ms = %g, stop_above_s = "
                            "%g: expected number >= 1, 1 <= repeat <= 100000, min_repeat_ms >= 0, "
                            "stop_above_s >= 0",
                            fn, (long long)number, (long long)repeat, min_ms, stop_above);
    const tt_value *kargs = args + 6;
    const int *kcodes = codes + 6;
    int kn = n - 6;
    double *out = malloc((size_t)(repeat + 2) * sizeof *out);
    uint8_t *le = malloc((size_t)(repeat + 2) * 8);
    if (out == NULL || le == NULL) {
        free(out);
        free(le);
        return tt_error_set("%s: out of memory", fn);
    }
    double *costs = out + 2;
    int64_t k = 0;
    int rc = 0;
    /* Warm-up: page faults, lazy binding, the thread pool's start. */
    if (run_n(f, kargs, kcodes, kn, 1) != 0) {
        rc = tt_error_wrap("%s: warm-up run", fn);
        goto done;
    }
    /* Grow number until one batch lasts min_repeat_ms, as TVM's time evaluator does: jump to
     * the estimate (with 20% margin) rather than doubling, at most 1e9 runs. */
    for (;;) {
        double mean;
        if ((rc = timed_batch(f, kargs, kcodes, kn, number, flush, &mean)) != 0)
            goto done;
        costs[0] = mean;
        k = 1;
        if (stop_above > 0 && mean > stop_above)
            goto reply;
        double ms = mean * (double)number * 1e3;
        if (ms >= min_ms || number >= 1000000000)
            break;
        double grow = ms > 0 ? min_ms / ms * 1.2 : 1000;
        if (grow < 2)
            grow = 2;
        if (grow > 1000)
            grow = 1000;
        number = (int64_t)((double)number * grow);
        if (number > 1000000000)
            number = 1000000000;
    }
    for (; k < repeat; k++)
        if ((rc = timed_batch(f, kargs, kcodes, kn, number, flush, &costs[k])) != 0)
            goto done;
reply:
    out[0] = (double)k;
    out[1] = (double)number;
    for (int64_t r = 0; r < k + 2; r++) {
        uint64_t bits;
        memcpy(&bits, &out[r], 8);
        for (int i = 0; i < 8; i++)
            le[r * 8 + i] = (uint8_t)(bits >> (8 * i));
    }
    tt_bytes b = {(const char *)le, (size_t)(k + 2) * 8};
    tt_value v = {.v_handle = &b};
    rc = ret_value(ret, v, TT_BYTES);
done:
    free(out);
    free(le);
    return rc;
}

int tt_rpc_device_api_register(const char *dir, uint64_t max_bytes)
{
    snprintf(work_dir, sizeof work_dir, "%s", dir);
    max_upload = max_bytes;
    static const struct {
        const char *name;
        tt_packed_cfunc body;
    } table[] = {
        {"rpc.upload", upload},
        {"rpc.remove", remove_file},
        {"rpc.load_module", load_module},
        {"rpc.module_get_function", module_get_function},
        {"rpc.array_alloc", array_alloc},
        {"rpc.array_alloc_guarded", array_alloc_guarded},
        {"rpc.array_copy_to", array_copy_to},
        {"rpc.array_copy_from", array_copy_from},
        {"rpc.device_info", device_info},
        {"rpc.time_evaluate", time_evaluate},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        tt_func f;
        if (tt_func_create(table[i].body, NULL, NULL, &f) != 0)
            return -1;
        int rc = tt_func_register_global(table[i].name, f, 1);
        tt_func_free(f);
        if (rc != 0)
            return -1;
    }
    return 0;
}
