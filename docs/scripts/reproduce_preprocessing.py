"""Reproduce a Tuna table run outside Tuna, with PyTorch only.

Reads a run folder's preprocessing.json and config.toml, turns the raw rows of a CSV file into
the model's input tensor, loads model.safetensors into the equivalent torch.nn.Sequential
(strict=True), and compares the predictions with those `tuna predict` wrote for the same file:

    tuna predict RUN INPUT.csv --out tuna-pred.csv
    python docs/scripts/reproduce_preprocessing.py RUN INPUT.csv tuna-pred.csv

Needs Python >= 3.11 (tomllib) and torch; nothing from Tuna.
"""

import csv
import json
import math
import struct
import sys
import tomllib
from pathlib import Path

import torch


# ANCHOR: encode
def read_rows(path, data):
    """The records of a CSV file as lists of cells (RFC 4180; blank lines skipped), and the
    header (None when the run's data has `header = false`)."""
    with open(path, newline="") as f:
        records = [r for r in csv.reader(f, delimiter=data.get("delimiter", ",")) if r]
    if data.get("header", True):
        return records[0], records[1:]
    return None, records


def positions(pre, header, width):
    """Where each fitted column (and the id column) is in the input file: by name when the
    file has a header, else the training file's layout with or without the target columns."""
    names = [c["name"] for c in pre["columns"]]
    idc = pre["id_column"]
    if header is not None:
        return [header.index(n) for n in names], (
            header.index(idc["name"]) if idc and idc["name"] in header else None)
    targets = pre["target"].get("columns") or [pre["target"]["column"]]
    if width == pre["file_columns"]:
        shift = lambda p: p
    elif width + len(targets) == pre["file_columns"]:
        shift = lambda p: p - sum(t < p for t in targets)
    else:
        raise ValueError(f"expected {pre['file_columns']} columns, found {width}")
    return [shift(c["column"]) for c in pre["columns"]], (shift(idc["column"]) if idc else None)


def f32(x):
    return torch.tensor(x, dtype=torch.float32)


def encode(pre, cells):
    """One row's model input (float32), column by column as preprocessing.json says."""
    na = set(pre["na_values"])
    out = []
    for col, cell in zip(pre["columns"], cells):
        cell = cell.strip()
        missing = cell in na
        if col["kind"] == "numeric":
            x = f32(col["fill"] if missing else float(cell))
            out.append((x - col["mean"]) / col["std"])          # all in float32, as Tuna
            if col["missing_indicator"]:
                out.append(f32(1.0 if missing else 0.0))
        else:
            key = None if missing else cell                      # null = the missing category
            cats = col["categories"]
            pos = cats.index(key) if key in cats else None       # unseen: None
            if col["encoding"] == "one_hot":
                out.extend(f32(1.0 if k == pos else 0.0) for k in range(len(cats)))
            else:                                                # ordinal; unseen -> -1
                out.append(f32(-1.0 if pos is None else float(pos)))
    return torch.stack(out)
# ANCHOR_END: encode


# ANCHOR: model
def load_safetensors(path):
    """A .safetensors file as a state dict (what safetensors.torch.load_file returns)."""
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    state = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        state[name] = torch.frombuffer(buf, dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return state


LAYERS = {
    "Linear": lambda s: torch.nn.Linear(s["in_features"], s["out_features"], s.get("bias", True)),
    "ReLU": lambda s: torch.nn.ReLU(),
    "Tanh": lambda s: torch.nn.Tanh(),
    "Sigmoid": lambda s: torch.nn.Sigmoid(),
    "GELU": lambda s: torch.nn.GELU(s.get("approximate", "none")),
    "Dropout": lambda s: torch.nn.Dropout(s.get("p", 0.5)),
}


def build_model(run):
    """config.toml's [model] (a Sequential of the layers above) as torch.nn.Sequential, with
    the run's weights loaded strictly. The last Linear's out_features, if the file left it
    out, is the weight's first dimension."""
    cfg = tomllib.loads((run / "config.toml").read_text())
    state = load_safetensors(run / "model.safetensors")
    layers = []
    for i, spec in enumerate(cfg["model"]["layers"]):
        spec = dict(spec)
        if spec["type"] == "Linear" and "out_features" not in spec:
            spec["out_features"] = state[f"{i}.weight"].shape[0]
        layers.append(LAYERS[spec["type"]](spec))
    model = torch.nn.Sequential(*layers)
    model.load_state_dict(state, strict=True)
    return model.eval(), cfg
# ANCHOR_END: model


# ANCHOR: compare
def main(run, input_csv, tuna_csv):
    run = Path(run)
    pre = json.loads((run / "preprocessing.json").read_text())
    model, cfg = build_model(run)
    header, rows = read_rows(input_csv, cfg["data"])
    cols, id_col = positions(pre, header, len(rows[0]))
    x = torch.stack([encode(pre, [r[j] for j in cols]) for r in rows])
    with torch.no_grad():
        out = model(x).double()
    target = pre["target"]
    if target["task"] == "classification":
        ours = torch.softmax(out, dim=1)                     # CrossEntropyLoss: logits
        names = [f"p_{c}" for c in target["classes"]]
    else:
        scale = target["scale"]                              # standardize_target
        if scale:
            out = out * torch.tensor(scale["std"]).double() + torch.tensor(scale["mean"]).double()
        ours = out
        names = [f"value_{i}" for i in range(out.shape[1])]
    with open(tuna_csv, newline="") as f:
        theirs = list(csv.DictReader(f))
    ids = [r[id_col] if id_col is not None else str(i) for i, r in enumerate(rows)]
    assert [t["id"] for t in theirs] == ids, "the predictions are not for these rows"
    tuna = torch.tensor([[float(t[n]) for n in names] for t in theirs], dtype=torch.float64)
    diff = (ours - tuna).abs().max().item()
    print(f"{len(rows)} rows, {x.shape[1]} inputs ({', '.join(pre['inputs'])})")
    if target["task"] == "classification":
        agree = sum(target["classes"][k] == t["prediction"]
                    for k, t in zip(ours.argmax(1).tolist(), theirs))
        print(f"predicted class agrees on {agree}/{len(rows)} rows")
    print(f"max abs difference vs tuna predict: {diff:.3g}")
    return 0 if diff < 1e-5 and not math.isnan(diff) else 1
# ANCHOR_END: compare


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
