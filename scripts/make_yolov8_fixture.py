#!/usr/bin/env python3
"""Builds tests/fixtures/inference/yolov8-synthetic.tflite and its sidecar.

A tiny float32 graph with the Ultralytics YOLOv8 output layout [1, 4 + 1 class, 16]: the 64x64
input is split into a 4x4 grid of 16x16 cells; each cell is one candidate whose box (cx, cy, w, h
in input pixels) is the cell itself and whose plate score is sigmoid(20 * (mean brightness - 0.6)).
A white cell therefore yields exactly one confident box, which lets the Rust test check decoding,
centred letterbox undo and NMS against a known answer.

Run with the training venv:  .cache/venv-train/bin/python scripts/make_yolov8_fixture.py
"""
import json
import os
import sys

import numpy as np
import tensorflow as tf

SIZE = 64
CELL = 16
GRID = SIZE // CELL
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "inference")


def boxes() -> np.ndarray:
    cx, cy, w, h = [], [], [], []
    for r in range(GRID):
        for c in range(GRID):
            cx.append(c * CELL + CELL / 2)
            cy.append(r * CELL + CELL / 2)
            w.append(CELL)
            h.append(CELL)
    return np.array([[cx, cy, w, h]], dtype=np.float32)  # [1, 4, 16]


@tf.function(input_signature=[tf.TensorSpec([1, SIZE, SIZE, 3], tf.float32, name="images")])
def detect(images):
    cells = tf.nn.avg_pool2d(images, ksize=CELL, strides=CELL, padding="VALID")  # [1, 4, 4, 3]
    brightness = tf.reduce_mean(cells, axis=-1)  # [1, 4, 4]
    scores = tf.sigmoid(20.0 * (tf.reshape(brightness, [1, 1, GRID * GRID]) - 0.6))
    return {"output0": tf.concat([tf.constant(boxes()), scores], axis=1)}  # [1, 5, 16]


def main() -> int:
    os.makedirs(OUT_DIR, exist_ok=True)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([detect.get_concrete_function()], detect)
    model = converter.convert()
    path = os.path.join(OUT_DIR, "yolov8-synthetic.tflite")
    with open(path, "wb") as f:
        f.write(model)
    sidecar = {
        "name": "yolov8-synthetic",
        "kind": "detector",
        "version": "0.0.1",
        "model_file": "yolov8-synthetic.tflite",
        "input": {
            "width": SIZE,
            "height": SIZE,
            "channels": 3,
            "dtype": "float32",
            "normalisation": {"scale": 1.0 / 255.0, "offset": 0.0},
        },
        "outputs": [{"name": "output0", "index": 0, "shape": [1, 5, GRID * GRID], "dtype": "float32"}],
        "format": "yolov8",
        "letterbox": "centre",
        "letterbox_colour": [114, 114, 114],
        "box_units": "pixels",
        "plate_class": 0,
        "score_threshold": 0.5,
        "nms_iou": 0.45,
        "max_detections": 20,
        "training": {"note": "synthetic test fixture made by scripts/make_yolov8_fixture.py; not trained"},
    }
    with open(os.path.join(OUT_DIR, "yolov8-synthetic.json"), "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    # Self-check with TF's interpreter: a white cell at row 1, column 0 scores high, nothing else.
    interp = tf.lite.Interpreter(model_content=model)
    interp.allocate_tensors()
    x = np.full((1, SIZE, SIZE, 3), 114 / 255.0, dtype=np.float32)
    x[0, 16:48] = 0.0
    x[0, 16:32, 0:16] = 1.0
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    hits = np.nonzero(out[0, 4] > 0.5)[0].tolist()
    print(f"wrote {path} ({len(model)} bytes); cells above 0.5: {hits}")
    return 0 if hits == [4] else 1


if __name__ == "__main__":
    sys.exit(main())
