"""Training on a busy machine: cnn vs PyTorch while other programs hold the cores.

A student's laptop also runs a browser, a notebook server and a second kernel. This measures a
training step of an MLP 784-256-128-10 (Adam, batch 64) and of LSTM(64) over 50 steps (batch 64)
at 1 and 2 threads, with 0, 1 and 2 busy-loop processes started by the script beside the
worker (on a 2-core machine, 2 of them leave no core free). Each library and configuration runs
in its own process; PyTorch as a user runs it (`torch.set_num_threads(n)`) and in its best
configuration from bench_mlp.py (glibc no-trim malloc, OMP_NUM_THREADS=n, fused Adam).

Run on an otherwise idle machine (its own load is the point):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_busy.py [--quick]
Writes its section of RESULTS.md and prints it.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import fmt  # noqa: E402

START, END = "<!-- bench_busy:start -->", "<!-- bench_busy:end -->"
BATCH, STEPS, FEATURES, UNITS = 64, 50, 8, 64
LOADS = (0, 1, 2)
TORCH_CONFIGS = {
    "user": ({}, {}),
    "best": ({"GLIBC_TUNABLES": harness.NO_TRIM, "OMP_NUM_THREADS": "{n}"}, {"fused": True}),
}


def make_data(p):
    import numpy as np
    rng = np.random.default_rng(0)
    mlp = (rng.standard_normal((p["mlp_samples"], 784), dtype=np.float32),
           rng.integers(0, 10, p["mlp_samples"]).astype(np.int64))
    seq = (rng.standard_normal((p["rnn_samples"], STEPS, FEATURES), dtype=np.float32),
           rng.standard_normal((p["rnn_samples"], 1), dtype=np.float32))
    return mlp, seq


def worker_cnn(n, p):
    import cnn
    from cnn.layers import LSTM, Dense, Input
    cnn.set_num_threads(n)
    (xm, ym), (xs, ys) = make_data(p)
    out = {"config": cnn.config()}
    mlp = cnn.models.Sequential([Input((784,)), Dense(256, activation="relu"),
                                 Dense(128, activation="relu"), Dense(10, activation="softmax")])
    mlp.compile(optimizer=cnn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rnn = cnn.models.Sequential([Input((STEPS, FEATURES)), LSTM(UNITS), Dense(1)])
    rnn.compile(optimizer=cnn.optimizers.Adam(1e-3), loss="mse")
    for name, model, x, y in (("mlp", mlp, xm, ym), ("lstm", rnn, xs, ys)):
        fit = lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)  # noqa: E731
        out[name] = harness.time_epochs(fit, p["repeats"]) / (len(x) // BATCH) * 1e3
    return out


def worker_torch(n, p, options):
    import torch
    from torch import nn
    torch.set_num_threads(n)
    torch.manual_seed(0)
    (xm, ym), (xs, ys) = make_data(p)

    class ManyToOne(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(FEATURES, UNITS, batch_first=True)
            self.head = nn.Linear(UNITS, 1)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])

    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    out = {"config": harness.torch_config()}
    for name, net, x, y, loss_fn in (("mlp", mlp, xm, ym, nn.CrossEntropyLoss()),
                                     ("lstm", ManyToOne(), xs, ys, nn.MSELoss())):
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x) - BATCH + 1, BATCH)]
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, **options)

        def epoch():
            for xb, yb in batches:
                opt.zero_grad()
                loss_fn(net(xb), yb).backward()
                opt.step()
        out[name] = harness.time_epochs(epoch, p["repeats"]) / len(batches) * 1e3
    return out


class BusyLoops:
    """`count` processes that spin until the block ends: other programs holding the cores."""

    def __init__(self, count):
        self.count, self.procs = count, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                      for _ in range(self.count)]
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def measure(n, p):
    """Per load: cnn and each PyTorch configuration at n threads, each in its own process."""
    out = {}
    for load in LOADS:
        with BusyLoops(load):
            row = {"cnn": harness.run_worker_once(__file__, ["cnn", n, json.dumps(p)])}
            for name, (env, options) in TORCH_CONFIGS.items():
                env = {k: v.format(n=n) for k, v in env.items()}
                row[name] = harness.run_worker_once(
                    __file__, ["torch", n, json.dumps(p), json.dumps(options)], env)
        out[load] = row
    return out


def section(all_m, p, meter):
    first = next(iter(all_m.values()))[0]
    cnn_cfg = first["cnn"].get("config", first["cnn"].get("error"))
    lines = ["## Training on a busy machine (bench/bench_busy.py)", "",
             "Generated by `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_busy.py`"
             + (" --quick (smoke run: numbers are rough)" if p["quick"] else "") + ".", "",
             f"Training ms/step (median of {p['repeats']} epochs after a warm-up) of an MLP "
             f"784-256-128-10 and of LSTM({UNITS}) over {STEPS} steps, batch {BATCH}, Adam, with 0, 1 "
             "and 2 busy-loop processes running beside the worker. PyTorch best = no-trim malloc + "
             "OMP_NUM_THREADS + fused Adam. Ratio = PyTorch-best / cnn (> 1: cnn faster).", "",
             "Machine:", ""]
    lines += harness.machine_lines(cnn_cfg, first["user"].get("config", {}))
    lines += [f"- the busy loops are this benchmark's own load; the whole run took "
              f"{meter.wall_s():.0f} s"]
    for n, m in all_m.items():
        lines += ["", f"### {n} thread{'s' if n > 1 else ''}", "",
                  "| model | busy loops | cnn | PyTorch (user) | PyTorch (best) | ratio |",
                  "|---|---:|---:|---:|---:|---:|"]
        for model in ("mlp", "lstm"):
            for load, row in m.items():
                c, u, b = (row[k].get(model) for k in ("cnn", "user", "best"))
                r = harness.ratio(c, b)
                lines.append(f"| {'MLP' if model == 'mlp' else 'LSTM'} | {load} | {fmt(c, 3)} | "
                             f"{fmt(u, 3)} | {fmt(b, 3)} | {fmt(r)}{'x' if r else ''} |")
        errors = [f"- {load} busy, {k}: {v['error']}" for load, row in m.items()
                  for k, v in row.items() if "error" in v]
        lines += [""] + errors if errors else []
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    harness.main(__doc__, sys.modules[__name__],
                 quick={"mlp_samples": 2048, "rnn_samples": 512, "repeats": 3},
                 full={"mlp_samples": 4096, "rnn_samples": 640, "repeats": 3})
