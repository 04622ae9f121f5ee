#!/usr/bin/env python3
"""ci/bench-cpu.py ROUNDS OUTDIR NAME=FARM[,ENV=VALUE...]... -- FARM-ARGS...

Farm's own CPU, build against build: interleaved rounds (a, b, a, b, ...) of each farm executable
running FARM-ARGS (e.g. `run jobs/xen-boot.yaml`; `--out OUTDIR/NAME` is added). Prints each run's
wall time, the farm process's own CPU (utime+stime from /proc/<pid>/stat once it has exited and
before it is reaped: QEMU excluded) and its CPU per thread (the last sample of each thread, taken
every 50 ms: thread-pool workers summed), then min/median/max per build. For a before/after of a
change, e.g.:
  ci/bench-cpu.py 6 /tmp/ab before=/tmp/farm-before/farm after=.cache/farm/farm -- run jobs/xen-boot.yaml
  ci/bench-cpu.py 6 /tmp/ab tc-off=.cache/farm/farm tc-on=.cache/farm/farm,DOTNET_TieredCompilation=1 -- run jobs/xen-boot.yaml
"""
import collections, os, statistics, subprocess, sys, time

rounds, out = int(sys.argv[1]), sys.argv[2]
sep = sys.argv.index("--")
builds = []
for spec in sys.argv[3:sep]:
    name, rest = spec.split("=", 1)
    exe, *envs = rest.split(",")
    env = dict(os.environ)
    env.update(e.split("=", 1) for e in envs)
    builds.append((name, exe, env))
args = sys.argv[sep + 1:]
tck = os.sysconf("SC_CLK_TCK")
os.makedirs(out, exist_ok=True)


def stat(path):
    s = open(path).read()
    f = s.rsplit(")", 1)[1].split()
    return s[s.index("(") + 1:s.rindex(")")], (int(f[11]) + int(f[12])) / tck


runs = collections.defaultdict(list)
threads = collections.defaultdict(lambda: collections.defaultdict(list))
for r in range(rounds):
    for name, exe, env in builds:
        with open(f"{out}/{name}.log", "w") as log:
            t0 = time.monotonic()
            p = subprocess.Popen([exe, *args, "--out", f"{out}/{name}"], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
            last = {}
            while os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
                try:
                    for tid in os.listdir(f"/proc/{p.pid}/task"):
                        try:
                            last[tid] = stat(f"/proc/{p.pid}/task/{tid}/stat")
                        except OSError:
                            pass
                except OSError:
                    pass
                time.sleep(0.05)
            wall = time.monotonic() - t0
            _, own = stat(f"/proc/{p.pid}/stat")
            _, status, _ = os.wait4(p.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        runs[name].append((wall, own))
        per = collections.Counter()
        for comm, cpu in last.values():
            per[".NET TP Worker" if comm.startswith(".NET TP") else comm] += cpu
        for k, v in per.items():
            threads[name][k].append(v)
        busy = ", ".join(f"{k} {v:.2f}" for k, v in per.most_common(4) if v > 0)
        print(f"round {r + 1} {name}: wall {wall:.2f} s, farm CPU {own:.3f} s, exit {code} ({busy})", flush=True)
        if code != 0:
            sys.exit(f"{name} failed: see {out}/{name}.log")
print("machine load at the end:", open("/proc/loadavg").read().split()[:3])
for name, _, _ in builds:
    cpu = sorted(c for _, c in runs[name])
    print(f"{name}: farm CPU min {cpu[0]:.3f} median {statistics.median(cpu):.3f} max {cpu[-1]:.3f} s; "
          f"wall median {statistics.median(w for w, _ in runs[name]):.2f} s ({len(cpu)} runs)")
    for k, v in sorted(threads[name].items(), key=lambda kv: -statistics.median(kv[1]))[:4]:
        print(f"    {k:28s} median {statistics.median(v):.3f} s")
