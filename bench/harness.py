"""Shared plumbing of bench_rnn.py and bench_transformer.py: one subprocess per library and
configuration, timers (medians after a warm-up), the other-load measurement, the machine
description and the writing of one script's section of RESULTS.md between its markers.

A script calls `run_worker(__file__, [...])`; the child runs the same script with
`--worker ...` and prints `MARK + json` of its result on one line."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

MARK = "@@RESULT@@"  # prefixes the worker's JSON line, so library chatter on stdout is harmless
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # force a slow sgemm kernel here

# glibc malloc tunables that stop it from trimming the heap or mmap-ing big blocks, so
# PyTorch's per-step tensors reuse warm pages instead of page-faulting (~10 us per 4 KiB here).
NO_TRIM = ("glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432:"
           "glibc.malloc.top_pad=67108864")
BUSY = 0.10  # a worker is rerun once when other processes took more than this share of the CPUs


# ------------------------------------------------------------------------------- timers
def time_epochs(run_epoch, repeats):
    """Median seconds of one epoch over `repeats` epochs, after one warm-up epoch."""
    run_epoch()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_call_ms(fn, calls):
    """Median wall time of one call, in milliseconds, after a short warm-up."""
    for _ in range(max(5, calls // 10)):
        fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def torch_config():
    import torch
    show = torch.__config__.show().splitlines()
    keep = ("Math Kernel", "MKL-DNN", "OpenMP", "CPU capability")
    return {"version": torch.__version__, "num_threads": torch.get_num_threads(),
            "build": [s.strip(" -") for s in show if any(k in s for k in keep)],
            "mkldnn": torch.backends.mkldnn.is_available()}


# ---------------------------------------------------------------------------- processes
def child_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env.update(extra or {})
    return env


def machine_cpu_s():
    """CPU seconds the whole machine has been busy (including hypervisor steal), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def own_cpu_s():
    """CPU seconds used by this process and its (waited-for) workers."""
    import resource
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


class LoadMeter:
    """The share of the machine's CPU time that other processes (or steal) took since start."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), machine_cpu_s(), own_cpu_s()

    def foreign_s(self):
        return max((machine_cpu_s() - self.busy0) - (own_cpu_s() - self.own0), 0.0)

    def wall_s(self):
        return time.perf_counter() - self.t0

    def share(self):
        return self.foreign_s() / (self.wall_s() * os.cpu_count())


def run_worker_once(script, args, extra_env=None, timeout=300):
    cmd = [sys.executable, os.path.abspath(script), "--worker"] + [str(a) for a in args]
    try:
        r = subprocess.run(cmd, env=child_env(extra_env), capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{args[0]} timed out after {timeout} s"}
    for line in r.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"{args[0]} failed (rc {r.returncode}): {tail}"}


def run_worker(script, args, extra_env=None, attempts=2):
    """run_worker_once, rerun when other processes took > 10% of the machine meanwhile (other
    sessions can share this VM, and a stolen core wrecks 2-thread numbers); keeps the attempt
    with the least foreign load and records that load as 'foreign'."""
    best = None
    for _ in range(attempts):
        meter = LoadMeter()
        res = run_worker_once(script, args, extra_env)
        res["foreign"] = meter.share()
        if best is None or res["foreign"] < best["foreign"]:
            best = res
        if "error" in res or res["foreign"] <= BUSY:
            break
    return best


def worker_reply(result):
    print(MARK + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------ reports
def fmt(v, digits=2):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def ratio(cnn_ms, torch_ms):
    """PyTorch time / cnn time: > 1 means cnn is faster."""
    if cnn_ms is None or torch_ms is None:
        return None
    return torch_ms / cnn_ms


def machine_lines(cnn_cfg, torch_cfg):
    with open("/proc/cpuinfo") as f:
        info = f.read().splitlines()
    cpu = next((l.split(":", 1)[1].strip() for l in info if l.startswith("model name")), "?")
    flags = next((l for l in info if l.startswith("flags")), "")
    unset = ", ".join(f"{k} (was {os.environ[k]!r})" if k in os.environ else f"{k} (unset by the caller)"
                      for k in BLAS_OVERRIDES)
    cnn_text = (f"OpenBLAS kernel {cnn_cfg.get('blas_kernel')}, {cnn_cfg.get('blas')} "
                f"({cnn_cfg.get('blas_config')})" if isinstance(cnn_cfg, dict) else str(cnn_cfg))
    return [f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; CPU: {cpu}, "
            f"{os.cpu_count()} logical cores ({len(os.sched_getaffinity(0))} usable), AVX-512: "
            f"{'yes' if 'avx512f' in flags else 'no'}; {platform.platform()}, Python "
            f"{platform.python_version()}",
            f"- cnn: {cnn_text}",
            f"- PyTorch {torch_cfg.get('version', '?')} (oneDNN available: "
            f"{torch_cfg.get('mkldnn', '?')}); " + "; ".join(torch_cfg.get("build", [])),
            f"- env vars removed for every worker: {unset}"]


def load_line(meter, kept):
    """How much other processes took over the run, and during which kept measurements
    (`kept`: label -> foreign share) it was over BUSY."""
    busy = {k: v for k, v in kept.items() if v > BUSY}
    text = (f"- other load: {meter.foreign_s():.1f} CPU-s used by other processes or hypervisor "
            f"steal over the {meter.wall_s():.0f} s run ({meter.share():.0%} of the machine); at most "
            f"{max(kept.values(), default=0):.0%} during any kept measurement (a worker is rerun "
            f"once when over {BUSY:.0%})")
    if busy:
        text += (" — **the machine was busy during: " + "; ".join(f"{k} ({v:.0%})" for k, v in busy.items())
                 + ". Those numbers (2-thread ones above all) are unreliable; rerun on an idle machine**")
    return text


def write_section(path, start, end, text):
    """Replaces the text between the `start` and `end` markers of `path` (or appends it)."""
    body = f"{start}\n{text.strip()}\n\n{end}"
    old = open(path).read() if os.path.exists(path) else ""
    if start in old and end in old:
        new = old[:old.index(start)] + body + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + body + "\n"
    with open(path, "w") as f:
        f.write(new)


def main(doc, module, quick, full):
    """The command line of a benchmark script: `--worker` runs one measurement in this process
    (module.worker_cnn / module.worker_torch), otherwise every thread count is measured
    (module.measure), and the section (module.section between module.START and module.END)
    is written to --out (RESULTS.md by default) and printed. quick/full: the parameters."""
    import argparse
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short smoke run")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "RESULTS.md"))
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        kind, n, p = a.worker[0], int(a.worker[1]), json.loads(a.worker[2])
        worker_reply(module.worker_cnn(n, p) if kind == "cnn" else
                     module.worker_torch(n, p, json.loads(a.worker[3])))
        return
    p = {**(quick if a.quick else full), "quick": a.quick}
    meter = LoadMeter()
    all_m = {n: module.measure(n, p) for n in map(int, a.threads.split(","))}
    text = module.section(all_m, p, meter)
    write_section(a.out, module.START, module.END, text)
    print(text)
    print(f"(benchmark took {meter.wall_s():.0f} s; wrote {a.out})")
