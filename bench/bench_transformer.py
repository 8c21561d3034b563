"""Transformer benchmark: cnn vs PyTorch on a 2-layer Transformer encoder classifier.

Model: (batch 32, 64 steps, 64 features) -> 2 post-norm encoder blocks (multi-head self-
attention with 4 heads of 16, residual, LayerNormalization; feed-forward 256 ReLU -> 64,
residual, LayerNormalization; dropout 0) -> mean over the steps -> Dense(10), sparse
categorical cross-entropy, Adam(1e-3), synthetic data. cnn builds it from public layers
(MultiHeadAttention, Dropout(0), Add, LayerNormalization, Dense, GlobalAveragePooling1D) and
trains with `model.fit`; PyTorch uses nn.TransformerEncoderLayer (batch_first, post-norm) and,
as its tuned variant, hand-built blocks on F.scaled_dot_product_attention, in a plain training
loop over the same batches. Measures training ms/step (median over epochs after a warm-up
epoch) and inference ms per batch of 32 (cnn: `predict_on_batch` and `model.predict`;
PyTorch: `net(x)` in eval mode under `torch.inference_mode()`, which takes
TransformerEncoderLayer's fused fast path), at 1 and 2 threads, each library and
configuration in its own subprocess; the ratio is against the best PyTorch configuration.

Run (the environment's OpenBLAS overrides slow sgemm, so unset them for this command):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_transformer.py [--quick]
Writes its section of bench/RESULTS.md (between the bench_transformer markers) and prints it.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import NO_TRIM, fmt, ratio  # noqa: E402

START, END = "<!-- bench_transformer:start -->", "<!-- bench_transformer:end -->"
SEQ, D_MODEL, HEADS, FF, LAYERS, CLASSES, BATCH = 64, 64, 4, 256, 2, 10, 32
EPS = 1e-5  # PyTorch's LayerNorm epsilon, so both compute the same function
TARGET = 1.0  # the target: cnn at least as fast as PyTorch-best

# PyTorch configurations: name -> (extra env, options). "user" is the baseline: the stock
# nn.TransformerEncoderLayer, defaults plus torch.set_num_threads(n).
_TUNED = {"GLIBC_TUNABLES": NO_TRIM, "OMP_NUM_THREADS": "{n}"}
TORCH_CONFIGS = {
    "user": ({}, {"blocks": "TransformerEncoderLayer"}),
    "no-trim + OMP_NUM_THREADS": (_TUNED, {"blocks": "TransformerEncoderLayer"}),
    "no-trim + OMP_NUM_THREADS + fused Adam": (
        _TUNED, {"blocks": "TransformerEncoderLayer", "adam": {"fused": True}}),
    "no-trim + OMP_NUM_THREADS + fused Adam, hand-built SDPA blocks": (
        _TUNED, {"blocks": "sdpa", "adam": {"fused": True}}),
}


# ----------------------------------------------------------------------------- workers
def make_data(samples):
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, SEQ, D_MODEL), dtype=np.float32)
    y = rng.integers(0, CLASSES, samples).astype(np.int64)
    return x, y


def cnn_model():
    """Keras-style post-norm encoder blocks from public layers."""
    import cnn
    from cnn.layers import (Add, Dense, Dropout, GlobalAveragePooling1D, Input,
                            LayerNormalization, MultiHeadAttention)
    inputs = Input((SEQ, D_MODEL))
    x = inputs
    for _ in range(LAYERS):
        attended = Dropout(0.0)(MultiHeadAttention(HEADS, D_MODEL // HEADS)(x, x))
        x = LayerNormalization(epsilon=EPS)(Add()([x, attended]))
        ff = Dropout(0.0)(Dense(D_MODEL)(Dense(FF, activation="relu")(x)))
        x = LayerNormalization(epsilon=EPS)(Add()([x, ff]))
    outputs = Dense(CLASSES, activation="softmax")(GlobalAveragePooling1D()(x))
    model = cnn.models.Model(inputs, outputs)
    model.compile(optimizer=cnn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def worker_cnn(n, p):
    import cnn
    cnn.set_num_threads(n)
    x, y = make_data(p["samples"])
    xb = x[:BATCH]
    model = cnn_model()
    fit = lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)  # noqa: E731
    out = {"config": cnn.config(),
           "train": harness.time_epochs(fit, p["repeats"]) / (p["samples"] // BATCH) * 1e3,
           "infer": harness.median_call_ms(lambda: model.predict_on_batch(xb), p["calls"]),
           "predict": harness.median_call_ms(lambda: model.predict(xb, verbose=0), p["calls"]),
           "rss_mb": harness.peak_rss_mb()}
    return out


def torch_net(blocks):
    import torch
    from torch import nn
    import torch.nn.functional as F

    class SDPABlock(nn.Module):
        """Post-norm encoder block with one fused QKV projection and SDPA."""

        def __init__(self):
            super().__init__()
            self.qkv, self.proj = nn.Linear(D_MODEL, 3 * D_MODEL), nn.Linear(D_MODEL, D_MODEL)
            self.ff1, self.ff2 = nn.Linear(D_MODEL, FF), nn.Linear(FF, D_MODEL)
            self.norm1, self.norm2 = nn.LayerNorm(D_MODEL, eps=EPS), nn.LayerNorm(D_MODEL, eps=EPS)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, HEADS, D_MODEL // HEADS).permute(2, 0, 3, 1, 4)
            att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, D_MODEL)
            x = self.norm1(x + self.proj(att))
            return self.norm2(x + self.ff2(F.relu(self.ff1(x))))

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            if blocks == "sdpa":
                self.blocks = nn.Sequential(*[SDPABlock() for _ in range(LAYERS)])
            else:
                layer = nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, dropout=0.0, batch_first=True,
                                                   norm_first=False, layer_norm_eps=EPS)
                self.blocks = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.head = nn.Linear(D_MODEL, CLASSES)  # logits: the softmax is in the loss

        def forward(self, x):
            return self.head(self.blocks(x).mean(dim=1))

    torch.manual_seed(0)
    return Classifier()


def worker_torch(n, p, options):
    import torch
    torch.set_num_threads(n)
    xn, yn = make_data(p["samples"])
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x) - BATCH + 1, BATCH)]
    net = torch_net(options["blocks"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, **options.get("adam", {}))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for xb, yb in batches:
            opt.zero_grad()
            loss_fn(net(xb), yb).backward()
            opt.step()
    out = {"config": harness.torch_config(),
           "train": harness.time_epochs(epoch, p["repeats"]) / len(batches) * 1e3}
    net.eval()
    xb = x[:BATCH]

    def infer():
        with torch.inference_mode():
            net(xb)
    out["infer"] = harness.median_call_ms(infer, p["calls"])
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
    for metric in ("train", "infer"):
        if ok:
            name = min(ok, key=lambda k: ok[k][metric])
            best[metric], winners[metric] = ok[name][metric], name
    return {"cnn": cnn_res, "torch_all": torch_all, "torch_best": best, "winners": winners}


def table(m):
    c, u, b = m["cnn"], m["torch_all"]["user"], m["torch_best"]
    rows = ["| metric | cnn | PyTorch (user) | PyTorch (best) | ratio (PyTorch-best / cnn) |",
            "|---|---:|---:|---:|---:|"]
    for label, key, tkey in ((f"train ms/step, batch {BATCH}", "train", "train"),
                             (f"inference ms, batch {BATCH}, cnn `predict_on_batch`", "infer", "infer"),
                             (f"inference ms, batch {BATCH}, cnn `model.predict`", "predict", "infer")):
        cv, uv, bv = c.get(key), u.get(tkey), b.get(tkey)
        r = ratio(cv, bv)
        rows.append(f"| {label} | {fmt(cv, 3)} | {fmt(uv, 3)} | {fmt(bv, 3)} | {fmt(r)}{'x' if r else ''} |")
    rows.append(f"| peak RSS MB (worker) | {fmt(c.get('rss_mb'), 0)} | {fmt(u.get('rss_mb'), 0)} | | |")
    return rows


def targets(m):
    out = []
    for key, what in (("train", "training"), ("infer", "inference (`predict_on_batch`)")):
        r = ratio(m["cnn"].get(key), m["torch_best"].get(key))
        ok = r is not None and r >= TARGET
        out.append(f"- {'met' if ok else '**not met**'}: {what} >= {TARGET}x PyTorch-best: {fmt(r)}x")
    return out


def section(all_m, p, meter):
    any_m = next(iter(all_m.values()))
    cnn_cfg = any_m["cnn"].get("config", any_m["cnn"].get("error"))
    torch_cfg = any_m["torch_all"]["user"].get("config", {})
    kept = {f"{lib}, {n} thread(s)": r.get("foreign", 0.0) for n, m in all_m.items()
            for lib, r in [("cnn", m["cnn"]), *[(f"PyTorch {k}", v) for k, v in m["torch_all"].items()]]}
    lines = ["## Transformer encoder (bench/bench_transformer.py)", "",
             "Generated by `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_transformer.py`"
             + (" --quick (smoke run: numbers are rough)" if p["quick"] else "") + ".", "",
             f"(batch, {SEQ} steps, {D_MODEL} features) -> {LAYERS} post-norm encoder blocks ({HEADS} heads "
             f"of {D_MODEL // HEADS}, feed-forward {FF}, dropout 0, LayerNorm epsilon {EPS}) -> mean over "
             f"steps -> Dense({CLASSES}), sparse categorical cross-entropy, Adam(lr=1e-3), {p['samples']} "
             f"synthetic samples, batch {BATCH}. cnn: MultiHeadAttention, Dropout, Add, LayerNormalization, "
             "Dense and GlobalAveragePooling1D in a functional model trained by `fit(epochs=1, "
             "shuffle=False)`; PyTorch: nn.TransformerEncoderLayer (batch_first, post-norm) or hand-built "
             f"blocks on F.scaled_dot_product_attention, in a plain loop. Training: median of {p['repeats']} "
             f"epochs after a warm-up epoch; inference: median of {p['calls']} calls on one batch "
             f"(PyTorch: eval mode under `torch.inference_mode()`). Ratio = PyTorch-best time / cnn time "
             "(> 1: cnn faster). Each library and configuration runs in its own process with the same "
             "thread count.", "", "Machine:", ""]
    lines += harness.machine_lines(cnn_cfg, torch_cfg) + [harness.load_line(meter, kept)]
    for n, m in all_m.items():
        lines += ["", f"### {n} thread{'s' if n > 1 else ''}", ""] + table(m)
        lines += ["", "Targets:", ""] + targets(m)
        lines += ["", "PyTorch-best configuration per metric: "
                  + "; ".join(f"{k}: {v}" for k, v in m["winners"].items()) + ".", "",
                  "All PyTorch configurations (train ms/step; inference ms):", ""]
        for name, r in m["torch_all"].items():
            lines.append(f"- {name}: " + (r["error"] if "error" in r else
                                          f"{r['train']:.3f} ms; {r['infer']:.3f} ms"))
        if "error" in m["cnn"]:
            lines += ["", f"- error: {m['cnn']['error']}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    harness.main(__doc__, sys.modules[__name__], quick={"samples": 256, "repeats": 3, "calls": 20},
                 full={"samples": 1024, "repeats": 7, "calls": 100})
