# Writes hand-made tuning-log records (docs/ARCHITECTURE.md "Logs and the database") for the CLI
# tests, so that they need no tuning run: reads a JSON array of {"workload": canonical task object,
# "target", "steps", "costs", "error", "trial", "flops"} on stdin and appends one line per entry
# to the log named by argv[1]. The key is computed here as tvm-tune computes it (name + FNV-1a of
# the compact, key-sorted workload), which the tests check against `tvm-tune show`.
import json
import statistics
import sys


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def key_of(workload):
    canon = json.dumps(workload, sort_keys=True, separators=(",", ":"))
    return "%s-%08x" % (workload["name"], fnv1a32(canon.encode())), canon


def main():
    entries = json.load(sys.stdin)
    with open(sys.argv[1], "a") as log:
        for e in entries:
            key, canon = key_of(e["workload"])
            err = e.get("error", 0)
            costs = e.get("costs", []) if err == 0 else e.get("costs", [])
            gflops = e["flops"] / statistics.median(costs) / 1e9 if err == 0 else 0
            rec = {"v": 1, "key": key, "workload": json.loads(canon), "target": e["target"],
                   "steps": e["steps"], "costs": costs, "error": err,
                   "error_msg": "" if err == 0 else "hand-made error", "build_s": 0.01,
                   "gflops": round(gflops, 3), "time": "2026-11-24T10:00:%02dZ" % (e["trial"] % 60),
                   "tuner": "hand", "trial": e["trial"], "seed": 7}
            log.write(json.dumps(rec, separators=(",", ":")) + "\n")
    if len(sys.argv) > 2 and sys.argv[2] == "--keys":
        for e in entries:
            print(key_of(e["workload"])[0])


if __name__ == "__main__":
    main()
