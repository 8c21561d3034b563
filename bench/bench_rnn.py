"""Recurrent benchmark: cnn vs PyTorch on LSTM(64) and GRU(64) many-to-one regression.

Model: (batch, 50 steps, 8 features) -> LSTM(64) or GRU(64) (last state) -> Dense(1), MSE,
Adam(1e-3), synthetic data, batch 64. cnn: `Sequential([Input((50, 8)), LSTM(64), Dense(1)])`
trained with `model.fit`; PyTorch: nn.LSTM / nn.GRU (batch_first) + nn.Linear in a plain
training loop over the same batches. Measures training ms/step (median over epochs after a
warm-up epoch) and inference ms per batch of 64 (cnn: `predict_on_batch` and `model.predict`;
PyTorch: `net(x)` under `torch.inference_mode()`), at 1 and 2 threads. Every library and
configuration runs in its own subprocess; PyTorch runs as a user runs it and in tuned
configurations (glibc malloc that never trims, OMP_NUM_THREADS, fused Adam, oneDNN on/off),
and the ratio is against the best of them.

Run (the environment's OpenBLAS overrides slow sgemm, so unset them for this command):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_rnn.py [--quick]
Writes its section of bench/RESULTS.md (between the bench_rnn markers) and prints it.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import NO_TRIM, fmt, ratio  # noqa: E402

START, END = "<!-- bench_rnn:start -->", "<!-- bench_rnn:end -->"
STEPS, FEATURES, UNITS, BATCH = 50, 8, 64, 64
CELLS = ("LSTM", "GRU")
TARGET = 1.5  # the target: cnn training at least 1.5x PyTorch-best

# PyTorch configurations: name -> (extra env, options). "user" is the baseline: defaults plus
# torch.set_num_threads(n), so both libraries use n threads.
TORCH_CONFIGS = {
    "user": ({}, {}),
    "no-trim malloc": ({"GLIBC_TUNABLES": NO_TRIM}, {}),
    "no-trim + OMP_NUM_THREADS": ({"GLIBC_TUNABLES": NO_TRIM, "OMP_NUM_THREADS": "{n}"}, {}),
    "no-trim + OMP_NUM_THREADS + fused Adam": (
        {"GLIBC_TUNABLES": NO_TRIM, "OMP_NUM_THREADS": "{n}"}, {"adam": {"fused": True}}),
    "no-trim + OMP_NUM_THREADS + fused Adam + oneDNN off": (
        {"GLIBC_TUNABLES": NO_TRIM, "OMP_NUM_THREADS": "{n}"},
        {"adam": {"fused": True}, "mkldnn": False}),
}


# ----------------------------------------------------------------------------- workers
def make_data(samples):
    """The same synthetic sequences in every worker: the target is a smooth function of the
    sequence (so the loss is meaningful), though only the step time matters here."""
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, STEPS, FEATURES), dtype=np.float32)
    y = (x[:, :, 0].mean(axis=1, keepdims=True) + 0.1 * x[:, -1, 1:2]).astype(np.float32)
    return x, y


def worker_cnn(n, p):
    import cnn
    from cnn.layers import GRU, LSTM, Dense, Input
    cnn.set_num_threads(n)
    x, y = make_data(p["samples"])
    xb = x[:BATCH]
    out = {"config": cnn.config()}
    for name, cell in (("LSTM", LSTM), ("GRU", GRU)):
        model = cnn.models.Sequential([Input((STEPS, FEATURES)), cell(UNITS), Dense(1)])
        model.compile(optimizer=cnn.optimizers.Adam(1e-3), loss="mse")
        fit = lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)  # noqa: E731
        out[f"{name}_train"] = harness.time_epochs(fit, p["repeats"]) / (p["samples"] // BATCH) * 1e3
        out[f"{name}_infer"] = harness.median_call_ms(lambda: model.predict_on_batch(xb), p["calls"])
        out[f"{name}_predict"] = harness.median_call_ms(lambda: model.predict(xb, verbose=0), p["calls"])
    out["rss_mb"] = harness.peak_rss_mb()
    return out


def torch_net(name):
    import torch
    from torch import nn

    class ManyToOne(nn.Module):
        """Recurrent layer over the sequence, then a linear head on its last output."""

        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, name)(FEATURES, UNITS, batch_first=True)
            self.head = nn.Linear(UNITS, 1)

        def forward(self, x):
            seq, _ = self.rnn(x)
            return self.head(seq[:, -1])

    torch.manual_seed(0)
    return ManyToOne()


def worker_torch(n, p, options):
    import torch
    torch.set_num_threads(n)
    if "mkldnn" in options:
        torch.backends.mkldnn.enabled = options["mkldnn"]
    xn, yn = make_data(p["samples"])
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x) - BATCH + 1, BATCH)]
    out = {"config": harness.torch_config()}
    for name in CELLS:
        net = torch_net(name)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, **options.get("adam", {}))
        loss_fn = torch.nn.MSELoss()

        def epoch():
            for xb, yb in batches:
                opt.zero_grad()
                loss_fn(net(xb), yb).backward()
                opt.step()
        out[f"{name}_train"] = harness.time_epochs(epoch, p["repeats"]) / len(batches) * 1e3
        net.eval()
        xb = x[:BATCH]

        def infer():
            with torch.inference_mode():
                net(xb)
        out[f"{name}_infer"] = harness.median_call_ms(infer, p["calls"])
    out["rss_mb"] = harness.peak_rss_mb()
    return out


# ------------------------------------------------------------------------ orchestration
def measure(n, p):
    cnn_res = harness.run_worker(__file__, ["cnn", n, json.dumps(p)])
    torch_all = {}
    for name, (env, options) in TORCH_CONFIGS.items():
        env = {k: v.format(n=n) for k, v in env.items()}
        torch_all[name] = harness.run_worker(__file__, ["torch", n, json.dumps(p), json.dumps(options)], env)
    ok = {k: v for k, v in torch_all.items() if "error" not in v}
    best, winners = {}, {}
    for metric in [f"{c}_{m}" for c in CELLS for m in ("train", "infer")]:
        if ok:
            name = min(ok, key=lambda k: ok[k][metric])
            best[metric], winners[metric] = ok[name][metric], name
    return {"cnn": cnn_res, "torch_all": torch_all, "torch_best": best, "winners": winners}


def table(m):
    c, u, b = m["cnn"], m["torch_all"]["user"], m["torch_best"]
    rows = ["| metric | cnn | PyTorch (user) | PyTorch (best) | ratio (PyTorch-best / cnn) |",
            "|---|---:|---:|---:|---:|"]
    for cell in CELLS:
        for label, key, tkey in ((f"{cell} train ms/step, batch {BATCH}", "train", "train"),
                                 (f"{cell} inference ms, batch {BATCH}, cnn `predict_on_batch`", "infer", "infer"),
                                 (f"{cell} inference ms, batch {BATCH}, cnn `model.predict`", "predict", "infer")):
            cv, uv, bv = c.get(f"{cell}_{key}"), u.get(f"{cell}_{tkey}"), b.get(f"{cell}_{tkey}")
            r = ratio(cv, bv)
            rows.append(f"| {label} | {fmt(cv, 3)} | {fmt(uv, 3)} | {fmt(bv, 3)} | {fmt(r)}{'x' if r else ''} |")
    rows.append(f"| peak RSS MB (worker) | {fmt(c.get('rss_mb'), 0)} | {fmt(u.get('rss_mb'), 0)} | | |")
    return rows


def targets(m):
    out = []
    for cell in CELLS:
        r = ratio(m["cnn"].get(f"{cell}_train"), m["torch_best"].get(f"{cell}_train"))
        ok = r is not None and r >= TARGET
        out.append(f"- {'met' if ok else '**not met**'}: {cell} training >= {TARGET}x PyTorch-best: "
                   f"{fmt(r)}x")
    return out


def section(all_m, p, meter):
    any_m = next(iter(all_m.values()))
    cnn_cfg = any_m["cnn"].get("config", any_m["cnn"].get("error"))
    torch_cfg = any_m["torch_all"]["user"].get("config", {})
    kept = {f"{lib}, {n} thread(s)": r.get("foreign", 0.0) for n, m in all_m.items()
            for lib, r in [("cnn", m["cnn"]), *[(f"PyTorch {k}", v) for k, v in m["torch_all"].items()]]}
    lines = ["## LSTM and GRU (bench/bench_rnn.py)", "",
             "Generated by `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_rnn.py`"
             + (" --quick (smoke run: numbers are rough)" if p["quick"] else "") + ".", "",
             f"(batch, {STEPS} steps, {FEATURES} features) -> LSTM({UNITS}) or GRU({UNITS}) -> Dense(1), MSE, "
             f"Adam(lr=1e-3), {p['samples']} synthetic sequences, batch {BATCH}. Training: cnn "
             f"`fit(epochs=1, shuffle=False)`, PyTorch a plain loop over the same batches, median of "
             f"{p['repeats']} epochs after a warm-up epoch. Inference: median of {p['calls']} calls on "
             f"one batch of {BATCH} (PyTorch: `net(x)` in eval mode under `torch.inference_mode()`). "
             "Ratio = PyTorch-best time / cnn time (> 1: cnn faster). Each library and configuration runs "
             "in its own process with the same thread count.", "", "Machine:", ""]
    lines += harness.machine_lines(cnn_cfg, torch_cfg) + [harness.load_line(meter, kept)]
    for n, m in all_m.items():
        lines += ["", f"### {n} thread{'s' if n > 1 else ''}", ""] + table(m)
        lines += ["", "Targets:", ""] + targets(m)
        lines += ["", "PyTorch-best configuration per metric: "
                  + "; ".join(f"{k}: {v}" for k, v in m["winners"].items()) + ".", "",
                  "All PyTorch configurations (train ms/step LSTM / GRU; inference ms LSTM / GRU):", ""]
        for name, r in m["torch_all"].items():
            if "error" in r:
                lines.append(f"- {name}: {r['error']}")
            else:
                lines.append(f"- {name}: {r['LSTM_train']:.3f} / {r['GRU_train']:.3f} ms; "
                             f"{r['LSTM_infer']:.3f} / {r['GRU_infer']:.3f} ms")
        if "error" in m["cnn"]:
            lines += ["", f"- error: {m['cnn']['error']}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    harness.main(__doc__, sys.modules[__name__], quick={"samples": 512, "repeats": 3, "calls": 30},
                 full={"samples": 2048, "repeats": 7, "calls": 200})
