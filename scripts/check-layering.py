#!/usr/bin/env python3
"""Layering check: every #include of the source folders follows the data flow of docs/ARCHITECTURE.md.

Reads each tracked .c/.h under the folders of LAYERS (and include/), resolves its #include lines
as the compiler does (the including file's folder, then the repository root, then include/), and
fails on an edge the table below does not allow, printing file:line and the edge. Headers are
followed: a file also depends on what the headers it includes include, so a back-edge hidden
behind a header is reported at the #include line that brings it in.

This table is the one place the allowed edges are written; `--help` prints it.
"""
import os
import re
import subprocess
import sys

# folder -> the folders it may include besides itself (docs/ARCHITECTURE.md, "Folders and what each may use").
# The runtime is the device side: it includes nothing of the host.
LAYERS = {
    "runtime": [],
    "ir": ["runtime"],
    "codegen": ["ir", "runtime"],
    # cost_model/dataset.c reads tuning logs to train the model and for transfer.
    "cost_model": ["ir", "logs", "runtime"],
    "search": ["ir", "cost_model", "runtime"],
    "measure": ["runtime"],
    "logs": ["runtime"],
    # farm/worker.c runs the tuner through its public API, include/tt/tune.h (the only tuner
    # header it includes); the tuner's CLI (tuner/cli_farm.c) drives the farm.
    "farm": ["ir", "logs", "measure", "runtime", "tuner"],
    "tuner": ["ir", "codegen", "search", "cost_model", "measure", "logs", "farm", "runtime"],
}

# include/tt/ holds the public headers; each belongs to the layer whose contract it is, so that
# including it is an edge to that layer. A header not named here is a runtime header (the
# strictest choice: anyone may include it, it may include only runtime headers).
PUBLIC_HEADERS = {
    "include/tt/runtime.h": "runtime",  # the C ABI
    "include/tt/backend.h": "runtime",  # what generated kernels call
    "include/tt/tune.h": "tuner",  # the tuning library API the CLI uses
    "include/tt/opfile.h": "ir",  # op.json files, opaque (ir/opjson.h has the inside)
}

# Public headers are installed alone, so they include only public headers. Known exceptions,
# each with why it is one; remove a line when it is fixed (the check then keeps it fixed).
PUBLIC_EXCEPTIONS = {}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def usage():
    out = [__doc__.strip(), "", "usage: scripts/check-layering.py [--root DIR]", "",
           "allowed edges (a folder may always include itself and the runtime headers of "
           "include/tt/):"]
    for layer, deps in LAYERS.items():
        out.append(f"  {layer:<11} -> {', '.join(deps) if deps else '(nothing else)'}")
    out.append("public headers and their layer (others in include/tt/: runtime):")
    for h, layer in PUBLIC_HEADERS.items():
        out.append(f"  {h:<22} {layer}")
    out.append("public headers include only public headers, except:")
    for (h, inc), why in PUBLIC_EXCEPTIONS.items():
        out.append(f"  {h} -> {inc}: {why}")
    return "\n".join(out)


def source_files(root):
    """Tracked .c/.h files of the checked folders; every such file when root is not a git tree."""
    folders = list(LAYERS) + ["include"]
    try:
        names = subprocess.run(["git", "-C", root, "ls-files", "--", *folders], check=True,
                               capture_output=True, text=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        names = []
        for folder in folders:
            for dirpath, _, files in os.walk(os.path.join(root, folder)):
                names += [os.path.relpath(os.path.join(dirpath, f), root) for f in files]
    return sorted(n for n in names if n.endswith((".c", ".h")))


def layer_of(path):
    """The layer of a repository path, or None for a file outside the checked folders."""
    if path.startswith("include/"):
        return PUBLIC_HEADERS.get(path, "runtime")
    top = path.split("/", 1)[0]
    return top if top in LAYERS else None


def resolve(root, including, kind, name):
    """The repository path an #include names, or None for a system header."""
    bases = [os.path.dirname(including)] if kind == '"' else []
    bases += ["", "include"]
    for base in bases:
        path = os.path.normpath(os.path.join(base, name))
        if not path.startswith("..") and os.path.isfile(os.path.join(root, path)):
            return path
    # A quoted include of a missing file under a layer's folder still names that layer.
    if kind == '"' and name.split("/", 1)[0] in LAYERS:
        return name
    return None


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a in ("-h", "--help"):
            print(usage())
            return 0
        if a == "--root" and args:
            root = os.path.abspath(args.pop(0))
        else:
            print(f"check-layering: unknown argument '{a}'\n\n{usage()}", file=sys.stderr)
            return 2

    files = source_files(root)
    includes = {}  # path -> [(line, included path)] of project headers
    for path in files:
        edges = []
        try:
            with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
                for lineno, text in enumerate(f, 1):
                    m = INCLUDE_RE.match(text)
                    if m:
                        target = resolve(root, path, m.group(1), m.group(2))
                        if target:
                            edges.append((lineno, target))
        except OSError as e:
            print(f"check-layering: {path}: {e}", file=sys.stderr)
            return 2
        includes[path] = edges

    def reach(header, seen):
        """Project headers reachable from header (itself included), each with the chain."""
        out = [[header]]
        for _, nxt in includes.get(header, []):
            if nxt not in seen:
                seen.add(nxt)
                out += [[header] + chain for chain in reach(nxt, seen)]
        return out

    violations = []
    for path in files:
        src = layer_of(path)
        allowed = {src, "runtime"} | set(LAYERS[src])
        for lineno, target in includes[path]:
            if path.startswith("include/") and not target.startswith("include/") and \
                    (path, target) not in PUBLIC_EXCEPTIONS:
                violations.append(f"{path}:{lineno}: public header includes {target}, which is "
                                  f"not installed (public headers include only include/tt/)")
            for chain in reach(target, {target}):
                dst = layer_of(chain[-1])
                if dst is None or dst in allowed:
                    continue
                via = f" (via {' -> '.join(chain)})" if len(chain) > 1 else ""
                violations.append(f"{path}:{lineno}: {src} -> {dst}: #include of "
                                  f"{chain[0]}{via}; {src} may include "
                                  f"{', '.join(LAYERS[src]) or 'only itself and the runtime'}")
                break
    for v in violations:
        print(v)
    if violations:
        print(f"check-layering: {len(violations)} include edge(s) against the data flow; "
              f"the allowed edges: scripts/check-layering.py --help", file=sys.stderr)
        return 1
    print(f"check-layering: {len(files)} files, every include follows the data flow")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
