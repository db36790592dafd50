/* A tiny module for the seed example: a shared library that exports PackedFuncs by symbol
 * (TT_EXPORT_PACKED), loaded at run time with tt_mod_load_from_file (C) or load_module (Python)
 * rather than linked. It registers nothing globally. */
#include <tt/runtime.h>

/* add_one(x): x + 1 for an int or a float. */
static int add_one(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)resource;
    if (n != 1 || (codes[0] != TT_INT && codes[0] != TT_FLOAT))
        return tt_error_set("add_one: expected one int or float argument");
    tt_value out = args[0];
    if (codes[0] == TT_INT)
        out.v_int64 += 1;
    else
        out.v_float64 += 1.0;
    return tt_ret_set(ret, &out, &codes[0], 1);
}
TT_EXPORT_PACKED(add_one, add_one)

/* greet(name): "hello, <name>", to show strings coming back through a module. */
static int greet(const tt_value *args, const int *codes, int n, tt_ret ret, void *resource)
{
    (void)resource;
    if (n != 1 || codes[0] != TT_STR)
        return tt_error_set("greet: expected one str argument");
    char buf[256];
    int len = 0;
    const char *p = "hello, ";
    while (*p && len < (int)sizeof buf - 1)
        buf[len++] = *p++;
    for (p = args[0].v_str; *p && len < (int)sizeof buf - 1; p++)
        buf[len++] = *p;
    buf[len] = '\0';
    tt_value out = {.v_str = buf};
    int code = TT_STR;
    return tt_ret_set(ret, &out, &code, 1); /* tt_ret_set copies the string */
}
TT_EXPORT_PACKED(greet, greet)
