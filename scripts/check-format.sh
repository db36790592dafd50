#!/usr/bin/env bash
# Format check: `clang-format --dry-run -Werror` (.clang-format at the root) over every tracked .c
# and .h file; fails naming the files that are not formatted. `--fix` formats them in place.
#
# The version is pinned: clang-format-19 (scripts/install-deps.sh installs it, the same LLVM as
# the code generator and the fuzz build), or $TT_CLANG_FORMAT. Versions format differently: on
# this tree 14 and 19 disagree on `} *name;` after a struct, function-pointer casts
# `(int32_t(*)())` and a braced initializer in a macro, so a plain `clang-format` of another
# version is used only with a warning, and its verdict may differ from CI's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

fix=0
case "${1:-}" in
  --fix) fix=1 ;;
  "") ;;
  *) echo "usage: scripts/check-format.sh [--fix]" >&2; exit 2 ;;
esac

cf=${TT_CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  if command -v clang-format-19 >/dev/null 2>&1; then
    cf=clang-format-19
  elif command -v clang-format >/dev/null 2>&1; then
    cf=clang-format
    echo "check-format: warning: clang-format-19 not found, using $($cf --version | head -n 1);" \
         "another version may format differently (scripts/install-deps.sh installs 19)" >&2
  else
    echo "check-format: clang-format-19 not found (scripts/install-deps.sh installs it)" >&2
    exit 2
  fi
fi

mapfile -t files < <(git ls-files -- '*.c' '*.h')
if [ $fix -eq 1 ]; then
  "$cf" -i -- "${files[@]}"
  echo "check-format: formatted ${#files[@]} files with $cf"
  exit 0
fi

# One run over all files (a process per file is slow); it names each unformatted file in its
# "FILE:LINE:COL: error: code should be clang-formatted" lines.
declare -A unformatted=()
status=0
out=$("$cf" --dry-run -Werror -- "${files[@]}" 2>&1) || status=$?
while IFS= read -r f; do
  [ -n "$f" ] && unformatted[$f]=1
done < <(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: .*\[-Wclang-format-violations\]$/\1/p' \
           <<<"$out" | sort -u)
if [ $status -ne 0 ] && [ ${#unformatted[@]} -eq 0 ]; then
  echo "check-format: $cf failed (exit $status):" >&2
  printf '%s\n' "$out" | head -n 20 >&2
  exit 2
fi

bad=()
for f in "${files[@]}"; do
  [ -n "${unformatted[$f]:-}" ] && bad+=("$f")
done

if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: not formatted as $cf formats them (see: $cf --dry-run FILE;" \
       "fix: $cf -i FILE):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check-format: ${#files[@]} files checked with $cf"
