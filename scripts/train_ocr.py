#!/usr/bin/env python3
"""Train the plate reader: small CNN + CTC on grayscale 192x48 crops; export float32 and int8
TFLite (builtin ops, batch 1) with the sidecar models/plate-ocr.json.

    python3 scripts/train_ocr.py --out models/ --steps 3000 --seed 1

Data: ocr-us and ocr-br train splits (15 % of distinct texts held out per set with a fixed seed,
lists in models/splits/), each real crop also in augmented variants, plus rendered plates of all
four styles (scripts/synth). The validation splits are only read after training, to report
accuracy and to choose int8 vs float (int8 ships if within 1 point of float).
"""
import argparse
import hashlib
import multiprocessing as mp
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelkit as mk  # noqa: E402
import synth  # noqa: E402

W, H = 192, 48
T_STEPS = 24
N_CLASSES = len(mk.ALPHABET) + 1
MAX_LABEL = 10
STYLE_WEIGHTS = {"us": 0.35, "eu": 0.25, "br-old": 0.2, "br-mercosul": 0.2}


def to_input(rgb):
    """RGB uint8 array -> 48x192 luma uint8 (stretched, as the daemon does)."""
    img = Image.fromarray(rgb).convert("L").resize((W, H), Image.BILINEAR)
    return np.asarray(img, np.uint8)


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def _real_variants(args):
    path, text, k, seed = args
    rng = np.random.default_rng(seed)
    rgb = load_rgb(path)
    out = [to_input(rgb)]
    strength = 1.0 if os.path.basename(path).startswith("pl_") else 0.5
    for _ in range(k):
        out.append(to_input(synth.augment_crop(rgb, rng, strength=strength, occlude_p=0.0)))
    return out, [text] * len(out)


def _synth_chunk(args):
    n, seed = args
    rng = np.random.default_rng(seed)
    styles = list(STYLE_WEIGHTS)
    p = np.array([STYLE_WEIGHTS[s] for s in styles])
    xs, ys = [], []
    for _ in range(n):
        style = styles[int(rng.choice(len(styles), p=p / p.sum()))]
        img, label = synth.render_plate(style, None, rng)
        w = int(rng.uniform(90, 260))
        img = img.resize((w, max(8, int(w * img.height / img.width))), Image.LANCZOS)
        xs.append(to_input(synth.augment_crop(img, rng)))
        ys.append(label)
    return xs, ys


def build_pool(train_items, n_synth, k_real, seed, workers):
    """Pre-rendered training images (uint8 48x192) and labels, cached under .cache/."""
    key = hashlib.sha1(repr((sorted(train_items), n_synth, k_real, seed, 3)).encode()).hexdigest()[:12]
    cache = os.path.join(mk.REPO, ".cache", "train-pools", "ocr-%s.npz" % key)
    if os.path.exists(cache):
        z = np.load(cache)
        return z["x"], list(z["y"])
    t0 = time.time()
    real_jobs = [(p, t, k_real, seed * 100003 + i) for i, (p, t) in enumerate(train_items)]
    chunk = 200
    synth_jobs = [(min(chunk, n_synth - s), seed * 7919 + s) for s in range(0, n_synth, chunk)]
    xs, ys = [], []
    with mp.Pool(workers) as pool:
        for a, b in pool.imap_unordered(_real_variants, real_jobs, chunksize=32):
            xs += a
            ys += b
        for a, b in pool.imap_unordered(_synth_chunk, synth_jobs):
            xs += a
            ys += b
    x = np.stack(xs)
    y = np.array(ys)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    np.savez(cache, x=x, y=y)
    print("pool: %d images (%d synthetic) in %.0f s" % (len(x), n_synth, time.time() - t0), flush=True)
    return x, list(y)


def encode_labels(texts):
    lab = np.zeros((len(texts), MAX_LABEL), np.int32)
    lens = np.zeros((len(texts),), np.int32)
    for i, t in enumerate(texts):
        idx = [mk.ALPHABET.index(c) + 1 for c in t if c in mk.ALPHABET][:MAX_LABEL]
        lab[i, :len(idx)] = idx
        lens[i] = len(idx)
    return lab, lens


def build_model():
    import tensorflow as tf
    L = tf.keras.layers

    def cbr(x, f, k=3, s=1, pad="same"):
        x = L.Conv2D(f, k, strides=s, padding=pad, use_bias=False)(x)
        x = L.BatchNormalization()(x)
        return L.ReLU()(x)

    inp = L.Input((H, W, 1))
    x = cbr(inp, 16, s=2)                      # 24x96
    x = cbr(x, 32)
    x = L.MaxPool2D(2)(x)                      # 12x48
    x = cbr(x, 64)
    x = cbr(x, 64)
    x = L.MaxPool2D(2)(x)                      # 6x24
    x = cbr(x, 96)
    x = cbr(x, 96)
    x = L.MaxPool2D((2, 1))(x)                 # 3x24
    x = cbr(x, 128, k=(3, 1), pad="valid")     # 1x24
    x = cbr(x, 128, k=(1, 5))                  # context along the text line
    x = L.Dropout(0.15)(x)
    x = L.Conv2D(N_CLASSES, 1)(x)              # 1x24x37 logits
    x = L.Reshape((T_STEPS, N_CLASSES))(x)
    return tf.keras.Model(inp, x)


def evaluate(model_path, items, us):
    m = mk.TFLiteModel(model_path)
    exact = chars = total_chars = 0
    for path, text in items:
        x = to_input(load_rgb(path)).astype(np.float32)[None, :, :, None] / 255.0
        probs = m.run(x)[0][0]
        pred, _, _ = mk.ctc_greedy(probs)
        a, b = mk.normalise_text(pred, us), mk.normalise_text(text, us)
        exact += a == b
        total_chars += len(b)
        chars += sum(1 for i, c in enumerate(b) if i < len(a) and a[i] == c) if len(a) == len(b) else 0
    n = max(1, len(items))
    return {"n": len(items), "exact": exact / n, "char_acc_same_length": chars / max(1, total_chars)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(mk.REPO, "models"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--synth", type=int, default=20000, help="rendered plates in the training pool")
    ap.add_argument("--real-variants", type=int, default=4, help="augmented copies per real crop")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    args = ap.parse_args()

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    splits = os.path.join(args.out, "splits")
    us_train, us_val = mk.make_ocr_split("ocr-us", splits)
    br_train, br_val = mk.make_ocr_split("ocr-br", splits)
    train_items = [(p, t) for p, t in us_train + br_train if 1 <= len(t) <= MAX_LABEL]
    x, y = build_pool(train_items, args.synth, args.real_variants, args.seed, args.workers)
    lab, lens = encode_labels(y)
    print("training pool %d images; us train %d, br train %d; val us %d, br %d" %
          (len(x), len(us_train), len(br_train), len(us_val), len(br_val)), flush=True)

    model = build_model()
    print("parameters: %d" % model.count_params(), flush=True)
    sched = tf.keras.optimizers.schedules.CosineDecay(args.lr, args.steps, alpha=0.02,
                                                      warmup_target=None, warmup_steps=0)
    opt = tf.keras.optimizers.Adam(sched)

    @tf.function(reduce_retracing=True)
    def train_step(xb, lb, ll):
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = tf.nn.ctc_loss(lb, logits, ll, tf.fill([tf.shape(xb)[0]], T_STEPS),
                                  logits_time_major=False, blank_index=0)
            loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 5.0)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    ema = None
    for step in range(1, args.steps + 1):
        idx = rng.integers(0, len(x), args.batch)
        xb = x[idx].astype(np.float32) / 255.0
        # Cheap per-batch photometric jitter: contrast, brightness, inversion-free.
        c = rng.uniform(0.6, 1.3, (args.batch, 1, 1)).astype(np.float32)
        b = rng.uniform(-0.2, 0.2, (args.batch, 1, 1)).astype(np.float32)
        xb = np.clip((xb - 0.5) * c + 0.5 + b, 0, 1)[..., None]
        loss = float(train_step(tf.constant(xb), tf.constant(lab[idx]), tf.constant(lens[idx])))
        ema = loss if ema is None else 0.98 * ema + 0.02 * loss
        if step % 50 == 0 or step == 1:
            print("step %d/%d loss %.3f (%.1f s)" % (step, args.steps, ema, time.time() - t0), flush=True)
    train_s = time.time() - t0

    @tf.function(reduce_retracing=True)
    def bn_update(xb):
        model(xb, training=True)

    # Re-estimate the moving BatchNorm statistics for the final weights (forward passes only;
    # momentum 0.9 so 40 batches replace the lagging averages).
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.momentum = 0.9
    for _ in range(40):
        idx = rng.integers(0, len(x), args.batch)
        bn_update(tf.constant(x[idx].astype(np.float32)[..., None] / 255.0))
    model.save_weights(os.path.join(mk.REPO, ".cache", "ocr-seed%d-steps%d.weights.h5" % (args.seed, args.steps)))

    @tf.function
    def infer(inp):
        return tf.nn.softmax(model(inp, training=False), axis=-1)

    f32 = os.path.join(args.out, "plate-ocr.float32.tflite")
    i8 = os.path.join(args.out, "plate-ocr.int8.tflite")
    rep_idx = rng.choice(len(x), 300, replace=False)
    mk.export_tflite(infer, (1, H, W, 1), (x[i].astype(np.float32)[None, :, :, None] / 255.0 for i in rep_idx), f32, i8)

    metrics = {}
    for name, path in (("float32", f32), ("int8", i8)):
        metrics[name] = {"ocr-us-val": evaluate(path, us_val, True), "ocr-br-val": evaluate(path, br_val, False)}
        print(name, metrics[name], flush=True)
    mean = lambda m: (m["ocr-us-val"]["exact"] + m["ocr-br-val"]["exact"]) / 2  # noqa: E731
    ship = "int8" if mean(metrics["int8"]) >= mean(metrics["float32"]) - 0.01 else "float32"
    shipped = os.path.join(args.out, "plate-ocr.tflite")
    with open(i8 if ship == "int8" else f32, "rb") as src, open(shipped, "wb") as dst:
        dst.write(src.read())
    write_sidecar(args, shipped, ship, metrics, train_s, len(x), len(us_train), len(br_train), model.count_params())
    print("shipped %s (%s)" % (shipped, ship))


def write_sidecar(args, shipped, ship, metrics, train_s, pool, n_us, n_br, params):
    ins, outs = mk.tensor_info(shipped)
    inp = {"width": W, "height": H, "channels": 1, "dtype": ins[0]["dtype"],
           "normalisation": {"scale": 1.0 / 255.0, "offset": 0.0}}
    if ins[0]["quantization"]:
        inp["quantization"] = ins[0]["quantization"]
    out = {"name": "logits", "index": 0, "shape": outs[0]["shape"], "dtype": outs[0]["dtype"]}
    if outs[0]["quantization"]:
        out["quantization"] = outs[0]["quantization"]
    side = {
        "name": "plate-ocr", "kind": "ocr", "version": "1.0.0", "model_file": "plate-ocr.tflite",
        "input": inp, "outputs": [out],
        "decoder": "ctc", "output_activation": "softmax", "blank_index": 0, "alphabet": mk.ALPHABET,
        "min_chars": 4, "max_chars": 8,
        "training": {
            "script": "scripts/train_ocr.py", "command": "python3 scripts/train_ocr.py --out models/ --steps %d --synth %d --real-variants %d --seed %d"
            % (args.steps, args.synth, args.real_variants, args.seed), "steps": args.steps, "seed": args.seed, "batch": args.batch,
            "train_seconds": round(train_s), "pool_images": pool, "ocr_us_train_crops": n_us,
            "ocr_br_train_crops": n_br, "synthetic_plates": args.synth, "parameters": params,
            "data": "ocr-us + ocr-br train splits (AGPL-3.0, openalpr), rendered plates (scripts/synth)",
            "shipped_precision": ship},
        "metrics": metrics, "created": mk.now_utc(),
    }
    mk.write_json(os.path.join(args.out, "plate-ocr.json"), side)


if __name__ == "__main__":
    main()
