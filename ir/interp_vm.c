/* The reference interpreter's bytecode machine (ir/interp_internal.h): one switch loop over
 * instructions, every load, store and tensor access bounds-checked, integer arithmetic wrapping
 * rather than undefined. ir/interp.c compiles the programs it runs. */
#include "ir/interp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/analysis.h"

static const size_t et_size[] = {4, 8, 4, 8, 1};

static inline val load(int et, const char *base, int64_t i)
{
    val v;
    switch (et) {
    case ET_F32:
        v.f = ((const float *)base)[i];
        break;
    case ET_F64:
        v.f = ((const double *)base)[i];
        break;
    case ET_I32:
        v.i = ((const int32_t *)base)[i];
        break;
    case ET_I64:
        v.i = ((const int64_t *)base)[i];
        break;
    default:
        v.i = ((const uint8_t *)base)[i] != 0;
        break;
    }
    return v;
}

static inline void store(int et, char *base, int64_t i, val v)
{
    switch (et) {
    case ET_F32:
        ((float *)base)[i] = (float)v.f;
        break;
    case ET_F64:
        ((double *)base)[i] = v.f;
        break;
    case ET_I32:
        ((int32_t *)base)[i] = (int32_t)v.i;
        break;
    case ET_I64:
        ((int64_t *)base)[i] = v.i;
        break;
    default:
        ((uint8_t *)base)[i] = v.i != 0;
        break;
    }
}

static int oob(const slot_buf *b, const char *what, int64_t i)
{
    return tt_error_set("%s %s: index %lld is out of bounds for a buffer of %lld elements", what,
                        b->name, (long long)i, (long long)b->numel);
}

/* Flat row-major index of the n indices at ix, each checked against its dimension. */
static int flat(const slot_buf *b, const val *ix, int n, const char *what, int64_t *out)
{
    *out = 0; /* defined on failure too: gcc cannot see that the error path returns -1 */
    int64_t f = 0;
    for (int d = 0; d < n; d++) {
        if (ix[d].i < 0 || ix[d].i >= b->shape[d])
            return tt_error_set("%s %s: index %lld of dimension %d is out of bounds [0, %lld)",
                                what, b->name, (long long)ix[d].i, d, (long long)b->shape[d]);
        f = f * b->shape[d] + ix[d].i;
    }
    *out = f;
    return 0;
}

static int f2i(double f, int et, int64_t *out)
{
    double lo = et == ET_I32 ? -2147483648.0 : -9223372036854775808.0;
    if (!(f >= lo && f < -lo)) /* also catches NaN */
        return tt_error_set("cast: float value %g does not fit in %s", f,
                            et == ET_I32 ? "int32" : "int64");
    *out = (int64_t)f;
    return 0;
}

static int run(const prog *p, char **data, val *stack, int64_t *var, int64_t *ext)
{
    const ins *code = p->code;
    val *sp = stack;
    int pc = 0;
    for (;;) {
        const ins *in = &code[pc++];
        switch (in->op) {
        case OP_HALT:
            return 0;
        case OP_PUSH:
            *sp++ = in->imm;
            break;
        case OP_VAR:
            (sp++)->i = var[in->a];
            break;
#define BIN_I(OP, EXPR)                                                                            \
    case OP: {                                                                                     \
        int64_t a = sp[-2].i, b = sp[-1].i;                                                        \
        (void)a, (void)b;                                                                          \
        sp--;                                                                                      \
        sp[-1].i = (EXPR);                                                                         \
        break;                                                                                     \
    }
#define BIN_F(OP, EXPR, FIELD)                                                                     \
    case OP: {                                                                                     \
        double a = sp[-2].f, b = sp[-1].f;                                                         \
        sp--;                                                                                      \
        sp[-1].FIELD = (EXPR);                                                                     \
        break;                                                                                     \
    }
            /* unsigned arithmetic: int64 overflow wraps instead of being undefined */
            BIN_I(OP_ADD_I, (int64_t)((uint64_t)a + (uint64_t)b))
            BIN_I(OP_SUB_I, (int64_t)((uint64_t)a - (uint64_t)b))
            BIN_I(OP_MUL_I, (int64_t)((uint64_t)a * (uint64_t)b))
            BIN_I(OP_MIN_I, a < b ? a : b)
            BIN_I(OP_MAX_I, a > b ? a : b)
            BIN_I(OP_EQ_I, a == b)
            BIN_I(OP_NE_I, a != b)
            BIN_I(OP_LT_I, a < b)
            BIN_I(OP_LE_I, a <= b)
            BIN_I(OP_GT_I, a > b)
            BIN_I(OP_GE_I, a >= b)
            BIN_F(OP_ADD_F, a + b, f)
            BIN_F(OP_SUB_F, a - b, f)
            BIN_F(OP_MUL_F, a * b, f)
            BIN_F(OP_DIV_F, a / b, f)
            BIN_F(OP_MIN_F, a < b ? a : b, f)
            BIN_F(OP_MAX_F, a > b ? a : b, f)
            BIN_F(OP_EQ_F, a == b, i)
            BIN_F(OP_NE_F, a != b, i)
            BIN_F(OP_LT_F, a < b, i)
            BIN_F(OP_LE_F, a <= b, i)
            BIN_F(OP_GT_F, a > b, i)
            BIN_F(OP_GE_F, a >= b, i)
        case OP_DIV_I:
        case OP_MOD_I: {
            /* floor division and modulo (ir/analysis.h): INT64_MIN / -1 wraps */
            int64_t a = sp[-2].i, b = sp[-1].i;
            if (b == 0)
                return tt_error_set("%s: integer division by zero",
                                    in->op == OP_DIV_I ? "div" : "mod");
            sp--;
            sp[-1].i = in->op == OP_DIV_I ? tt_floordiv(a, b) : tt_floormod(a, b);
            break;
        }
        case OP_ADDK_I:
            sp[-1].i = (int64_t)((uint64_t)sp[-1].i + (uint64_t)in->imm.i);
            break;
        case OP_MULK_I:
            sp[-1].i = (int64_t)((uint64_t)sp[-1].i * (uint64_t)in->imm.i);
            break;
        case OP_ADDV_I:
            sp[-1].i = (int64_t)((uint64_t)sp[-1].i + (uint64_t)var[in->a]);
            break;
        case OP_ADDVK_I:
            sp[-1].i = (int64_t)((uint64_t)sp[-1].i + (uint64_t)var[in->a] * (uint64_t)in->imm.i);
            break;
        case OP_VARMULK_I:
            (sp++)->i = (int64_t)((uint64_t)var[in->a] * (uint64_t)in->imm.i);
            break;
        case OP_NOT:
            sp[-1].i = !sp[-1].i;
            break;
        case OP_JZ:
            if ((--sp)->i == 0)
                pc = in->a;
            break;
        case OP_JNZ:
            if ((--sp)->i != 0)
                pc = in->a;
            break;
        case OP_JMP:
            pc = in->a;
            break;
        case OP_CALL: {
            double x = sp[-1].f;
            switch (in->a) {
            case FN_EXP:
                x = exp(x);
                break;
            case FN_SQRT:
                x = sqrt(x);
                break;
            case FN_LOG:
                x = log(x);
                break;
            case FN_TANH:
                x = tanh(x);
                break;
            default:
                x = fabs(x);
                break;
            }
            sp[-1].f = x;
            break;
        }
        case OP_I2F:
            sp[-1].f = in->b ? (double)(float)sp[-1].i : (double)sp[-1].i;
            break;
        case OP_F2F32:
            sp[-1].f = (float)sp[-1].f;
            break;
        case OP_F2I:
            if (f2i(sp[-1].f, in->a, &sp[-1].i) < 0)
                return -1;
            break;
        case OP_I2I32:
            sp[-1].i = (int32_t)(uint32_t)(uint64_t)sp[-1].i;
            break;
        case OP_TOBOOL_I:
            sp[-1].i = sp[-1].i != 0;
            break;
        case OP_TOBOOL_F:
            sp[-1].i = sp[-1].f != 0;
            break;
        case OP_LOAD: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i = sp[-1].i;
            if (i < 0 || i >= b->numel)
                return oob(b, "load", i);
            sp[-1] = load(b->et, data[in->a], i);
            break;
        }
        case OP_STORE: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i = sp[-2].i;
            if (i < 0 || i >= b->numel)
                return oob(b, "store", i);
            store(b->et, data[in->a], i, sp[-1]);
            sp -= 2;
            break;
        }
        case OP_ACCESS: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i;
            sp -= in->b;
            if (flat(b, sp, in->b, "access", &i) < 0)
                return -1;
            *sp++ = load(b->et, data[in->a], i);
            break;
        }
        case OP_STORE_AT: {
            const slot_buf *b = &p->bufs[in->a];
            int64_t i;
            val v = *--sp;
            sp -= in->b;
            if (flat(b, sp, in->b, "store", &i) < 0)
                return -1;
            store(b->et, data[in->a], i, v);
            break;
        }
        case OP_LOOP_INIT: {
            int64_t e = (--sp)->i;
            if (e <= 0) {
                pc = in->b;
                break;
            }
            ext[in->a] = e;
            var[in->a] = 0;
            break;
        }
        case OP_LOOP_NEXT:
            if (++var[in->a] < ext[in->a])
                pc = in->b;
            break;
        case OP_ALLOC: {
            const slot_buf *b = &p->bufs[in->a];
            /* all-ones bytes are NaN for floats and a large negative value for ints */
            memset(data[in->a], b->et <= ET_F64 ? 0xff : 0xa5, (size_t)b->numel * et_size[b->et]);
            break;
        }
        default:
            return tt_error_set("interp: bad opcode %d", in->op);
        }
    }
}

int interp_execute(const prog *p, void *const *args, int nargs)
{
    int rc = -1;
    char **data = calloc((size_t)p->nbufs + 1, sizeof *data);
    val *stack = calloc((size_t)p->max_depth + 1, sizeof *stack);
    int64_t *var = calloc((size_t)p->nvars + 1, sizeof *var);
    int64_t *ext = calloc((size_t)p->nvars + 1, sizeof *ext);
    if (!data || !stack || !var || !ext) {
        tt_error_setc(TT_ERR_OUT_OF_MEMORY, "interp: out of memory");
        goto done;
    }
    for (int i = 0; i < p->nbufs; i++) {
        const slot_buf *b = &p->bufs[i];
        if (b->arg >= 0) {
            if (b->arg >= nargs || (!args[b->arg] && b->numel > 0)) {
                tt_error_set("argument %d (%s) is NULL", b->arg, b->name);
                goto done;
            }
            data[i] = args[b->arg];
        } else if (!(data[i] = calloc((size_t)(b->numel ? b->numel : 1), et_size[b->et]))) {
            tt_error_setc(TT_ERR_OUT_OF_MEMORY,
                          "interp: out of memory allocating %s (%lld elements)", b->name,
                          (long long)b->numel);
            goto done;
        }
    }
    rc = run(p, data, stack, var, ext);
done:
    for (int i = 0; data && i < p->nbufs; i++)
        if (p->bufs[i].arg < 0)
            free(data[i]);
    free(data);
    free(stack);
    free(var);
    free(ext);
    return rc;
}
