"""CNN benchmark: cnn vs PyTorch on the course's small CNN and VGG16 inference.

Small CNN on 28x28x1: Conv 32 3x3 - ReLU - MaxPool - Conv 64 3x3 - ReLU - MaxPool - Flatten -
Dense 128 - ReLU - Dense 10, Adam, sparse categorical cross-entropy, synthetic data; training
ms/step at batch 32 and 128 and inference ms/batch at 128. VGG16 (random weights) inference on
224x224x3 at batch 8. Peak RSS of each worker. Each library runs in its own subprocess with the
same thread count; PyTorch runs as a user runs it and in its best configuration (fused Adam,
glibc malloc that never trims).

Run (the environment's OpenBLAS overrides slow sgemm, so unset them for this command):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_cnn.py [--quick]
Writes its section of bench/RESULTS.md (between the bench_cnn markers) and prints it.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "@@RESULT@@"
START, END = "<!-- bench_cnn:start -->", "<!-- bench_cnn:end -->"
NO_TRIM = "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432"


def median_ms(fn, repeats):
    fn()  # warm-up: plans, arenas, caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


# ---- workers (one library per process) ----------------------------------------------------

def worker_cnn(threads, p):
    import numpy as np
    import cnn
    from cnn.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    cnn.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.random((p["samples"], 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, p["samples"])
    model = cnn.models.Sequential([
        Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D(),
        Conv2D(64, 3, activation="relu"), MaxPooling2D(), Flatten(),
        Dense(128, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    out = {}
    for bs in (32, 128):
        steps = p["samples"] // bs
        out[f"train_{bs}"] = median_ms(lambda: model.fit(x, y, batch_size=bs, epochs=1, verbose=0,
                                                         shuffle=False), p["repeats"]) / steps
    xb = x[:128]
    out["infer_128"] = median_ms(lambda: [model.predict_on_batch(xb) for _ in range(10)], p["repeats"]) / 10
    vgg = cnn.applications.VGG16(weights=None)
    xv = rng.random((8, 224, 224, 3), dtype=np.float32)
    out["vgg16_8"] = median_ms(lambda: vgg.predict_on_batch(xv), max(3, p["repeats"] // 2))
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["config"] = cnn.config()["blas_kernel"]
    return out


def torch_vgg16(nn):
    layers, c = [], 3
    for block in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for f in block:
            layers += [nn.Conv2d(c, f, 3, padding=1), nn.ReLU()]
            c = f
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
               nn.Linear(4096, 1000), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def worker_torch(threads, p, fused):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.rand(p["samples"], 1, 28, 28)
    y = torch.randint(0, 10, (p["samples"],))
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, **({"fused": True} if fused else {}))
    loss_fn = nn.CrossEntropyLoss()  # on logits: the softmax is folded in

    def epoch(bs):
        for i in range(0, p["samples"] - bs + 1, bs):
            opt.zero_grad()
            loss_fn(net(x[i:i + bs]), y[i:i + bs]).backward()
            opt.step()

    out = {}
    for bs in (32, 128):
        out[f"train_{bs}"] = median_ms(lambda: epoch(bs), p["repeats"]) / (p["samples"] // bs)
    with torch.inference_mode():
        xb = x[:128]
        out["infer_128"] = median_ms(lambda: [net(xb) for _ in range(10)], p["repeats"]) / 10
        vgg = torch_vgg16(nn).eval()
        xv = torch.rand(8, 3, 224, 224)
        out["vgg16_8"] = median_ms(lambda: vgg(xv), max(3, p["repeats"] // 2))
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# ---- driver --------------------------------------------------------------------------------

def run_worker(kind, threads, p, env_extra=None, fused=False):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(env_extra or {})
    cmd = [sys.executable, __file__, "--worker", kind, str(threads), json.dumps(p), json.dumps(fused)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    line = next(l for l in proc.stdout.splitlines() if l.startswith(MARK))
    return json.loads(line[len(MARK):])


METRICS = [("train_32", "train ms/step, batch 32"), ("train_128", "train ms/step, batch 128"),
           ("infer_128", "inference ms/batch, batch 128"), ("vgg16_8", "VGG16 inference ms, batch 8 224x224x3"),
           ("rss_mb", "peak RSS MB (worker)")]


def section(results, p):
    lines = [START, "## Small CNN and VGG16 (bench/bench_cnn.py)", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}; {p['samples']} synthetic 28x28x1 samples, medians of "
             f"{p['repeats']} repeats; cnn's OpenBLAS kernel: {results[1]['cnn']['config']}. PyTorch best = "
             "fused Adam + glibc malloc that never trims. Ratio = PyTorch-best time / cnn time (>1: cnn faster; "
             "for RSS, PyTorch / cnn).", ""]
    for threads, r in results.items():
        lines += [f"### {threads} thread{'s' if threads > 1 else ''}", "",
                  "| metric | cnn | PyTorch (user) | PyTorch (best) | ratio |", "|---|---:|---:|---:|---:|"]
        for key, label in METRICS:
            c, u = r["cnn"][key], r["torch_user"][key]
            b = min(u, r["torch_best"][key])
            lines.append(f"| {label} | {c:.2f} | {u:.2f} | {b:.2f} | {b / c:.2f}x |")
        lines.append("")
    r1 = results[min(results)]
    c32 = min(r1["torch_user"]["train_32"], r1["torch_best"]["train_32"]) / r1["cnn"]["train_32"]
    c128 = min(r1["torch_user"]["train_128"], r1["torch_best"]["train_128"]) / r1["cnn"]["train_128"]
    mem = r1["torch_user"]["rss_mb"] / r1["cnn"]["rss_mb"]
    lines += ["Targets (1 thread):", "",
              f"- {'met' if c32 >= 1.0 else 'not met'}: training >= 1.0x PyTorch at batch 32: {c32:.2f}x",
              f"- {'met' if c128 >= 0.8 else 'not met'}: training >= 0.8x PyTorch at batch 128: {c128:.2f}x",
              f"- {'met' if mem >= 1.0 else 'not met'}: peak memory no higher than PyTorch's: {mem:.2f}x", "", END]
    return "\n".join(lines) + "\n"


def write_section(path, text):
    old = open(path).read() if os.path.exists(path) else ""
    if START in old and END in old:
        new = old[:old.index(START)] + text.rstrip("\n") + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        kind, threads, p, fused = a.worker[0], int(a.worker[1]), json.loads(a.worker[2]), json.loads(a.worker[3])
        res = worker_cnn(threads, p) if kind == "cnn" else worker_torch(threads, p, fused)
        print(MARK + json.dumps(res))
        return
    p = {"samples": 512, "repeats": 3} if a.quick else {"samples": 2048, "repeats": 5}
    results = {}
    for threads in map(int, a.threads.split(",")):
        results[threads] = {
            "cnn": run_worker("cnn", threads, p),
            "torch_user": run_worker("torch", threads, p),
            "torch_best": run_worker("torch", threads, p, {"GLIBC_TUNABLES": NO_TRIM}, fused=True),
        }
    text = section(results, p)
    write_section(a.out, text)
    print(text)


if __name__ == "__main__":
    main()
