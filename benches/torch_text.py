"""PyTorch side of the text comparison (benches/text_compare.py runs both sides).

The four shipped text experiments (examples/configs/names-gru.toml, spam-bag.toml,
spam-lstm.toml, spam-transformer.toml) written in PyTorch with the same architecture and
tokenizer; the recipe (optimizer, lr, weight decay, batch size, length bucketing, epochs, early
stopping) is read from the experiment file, so both sides train the same way on the split files
both read.

  python benches/torch_text.py split DIR     # the 80/10/10 split of ../shared/data/README.md
  python benches/torch_text.py train MODEL --data DIR [--seed S] [--epochs N] [--threads T]

`split` writes DIR/names/{train,val,test}.csv and DIR/spam/{train,val,test}.jsonl with
scikit-learn's train_test_split(test_size=0.2, random_state=0, stratify=y), the remainder halved
the same way (first half validation, second half test). `train` prints one JSON line: test
accuracy, the minority class's F1, the best epoch, and every epoch's wall time (training plus
the validation pass, as Tuna's metrics.jsonl `seconds`).
"""
import argparse
import collections
import csv
import gzip
import json
import math
import os
import re
import sys
import time
import tomllib

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets", "text")
NAMES = os.path.join(ROOT, "names", "names.csv")
SPAM = os.path.join(ROOT, "spamassassin", "spam-2002.jsonl.gz")
WORD = re.compile(r"[a-z0-9']+")

CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "configs")


def recipe(name, config=None):
    """The training recipe of an experiment file (default: the shipped examples/configs/NAME.toml):
    batch size, bucketing, max tokens, optimizer, lr, weight decay, epochs, early stopping."""
    with open(config or os.path.join(CONFIGS, name + ".toml"), "rb") as f:
        cfg = tomllib.load(f)
    opt, train, loader = cfg["optimizer"], cfg["train"], cfg.get("loader", {})
    stop = train.get("early_stopping", {})
    monitor = stop.get("monitor", "val_loss")
    return {
        "batch_size": loader.get("batch_size", 32),
        "bucket": loader.get("bucket_by_length", False),
        "max_len": cfg["data"].get("max_len", 256),
        "optimizer": opt["type"],
        "lr": opt["lr"],
        "weight_decay": opt.get("weight_decay", 0.01 if opt["type"] == "AdamW" else 0.0),
        "epochs": train["epochs"],
        "monitor": monitor,
        "patience": stop.get("patience", 10**9),
    }


def split(out):
    from sklearn.model_selection import train_test_split

    with open(NAMES, newline="") as f:
        names = list(csv.DictReader(f))
    with gzip.open(SPAM, "rt") as f:
        spam = [json.loads(line) for line in f if line.strip()]
    for kind, rows, label in (("names", names, "gender"), ("spam", spam, "label")):
        y = [r[label] for r in rows]
        idx = list(range(len(rows)))
        train, rest = train_test_split(idx, test_size=0.2, random_state=0, stratify=y)
        val, test = train_test_split(
            rest, test_size=0.5, random_state=0, stratify=[y[i] for i in rest]
        )
        os.makedirs(os.path.join(out, kind), exist_ok=True)
        for part, ids in (("train", train), ("val", val), ("test", test)):
            if kind == "names":
                with open(os.path.join(out, kind, part + ".csv"), "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["name", "gender"])
                    w.writerows([rows[i]["name"], rows[i]["gender"]] for i in ids)
            else:
                with open(os.path.join(out, kind, part + ".jsonl"), "w") as f:
                    for i in ids:
                        f.write(json.dumps({"text": rows[i]["text"], "label": rows[i]["label"]}) + "\n")
        print(f"{kind}: {len(train)} / {len(val)} / {len(test)}", file=sys.stderr)


def read(kind, path):
    """(texts, labels) of one split file; labels as class indices (names: female 0, male 1;
    spam: ham 0, spam 1, as the configs' class order)."""
    if kind == "names":
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        classes = sorted({r["gender"] for r in rows})
        return [r["name"] for r in rows], [classes.index(r["gender"]) for r in rows]
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r["text"] for r in rows], [int(r["label"] == "spam") for r in rows]


def tokenize(kind, text):
    return list(text.lower()) if kind == "names" else WORD.findall(text.lower())


def vocabulary(kind, texts):
    """<pad> = 0, <unk> = 1, then training tokens by count (names: every character seen;
    spam: min_freq 2, at most 20,000 entries)."""
    counts = collections.Counter(t for text in texts for t in tokenize(kind, text))
    min_freq, cap = (1, None) if kind == "names" else (2, 20000)
    words = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= min_freq]
    if cap is not None:
        words = words[: cap - 2]
    return {w: i + 2 for i, w in enumerate(words)}


def encode(kind, texts, vocab, max_len):
    out = []
    for text in texts:
        ids = [vocab.get(t, 1) for t in tokenize(kind, text)][:max_len]
        out.append(ids or [1])
    return out


def batches(seqs, batch_size, shuffle, bucket, gen):
    order = torch.randperm(len(seqs), generator=gen).tolist() if shuffle else list(range(len(seqs)))
    if not bucket:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    full, rest = [], []
    pool_size = batch_size * 50
    for p in range(0, len(order), pool_size):
        pool = sorted(order[p : p + pool_size], key=lambda i: len(seqs[i]))
        for c in range(0, len(pool), batch_size):
            (full if len(pool[c : c + batch_size]) == batch_size else rest).append(pool[c : c + batch_size])
    if shuffle:
        full = [full[i] for i in torch.randperm(len(full), generator=gen).tolist()]
    return full + rest


def collate(seqs, ids):
    lengths = torch.tensor([len(seqs[i]) for i in ids])
    x = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, i in enumerate(ids):
        x[row, : len(seqs[i])] = torch.tensor(seqs[i])
    return x, lengths


def masked_mean(h, lengths):
    mask = (torch.arange(h.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1).to(h.dtype)
    return (h * mask).sum(1) / lengths[:, None].to(h.dtype)


class NamesGru(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32, padding_idx=0)
        self.gru = nn.GRU(32, 128, batch_first=True)
        self.out = nn.Linear(128, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.out(h[-1])


class SpamBag(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 64, padding_idx=0)
        self.out = nn.Linear(64, 2)

    def forward(self, x, lengths):
        return self.out(masked_mean(self.emb(x), lengths))


class SpamLstm(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 64, padding_idx=0)
        self.lstm = nn.LSTM(64, 64, batch_first=True)
        self.out = nn.Linear(64, 2)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        return self.out(masked_mean(h, lengths))


class SpamTransformer(nn.Module):
    def __init__(self, vocab, max_len=256):
        super().__init__()
        self.emb = nn.Embedding(vocab, 64, padding_idx=0)
        self.pos = nn.Embedding(max_len, 64)
        layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.out = nn.Linear(64, 2)

    def forward(self, x, lengths):
        h = self.emb(x) + self.pos(torch.arange(x.shape[1]))[None]
        pad = torch.arange(x.shape[1])[None, :] >= lengths[:, None]
        h = self.encoder(h, src_key_padding_mask=pad)
        return self.out(masked_mean(h, lengths))


MODELS = {"names-gru": NamesGru, "spam-bag": SpamBag, "spam-lstm": SpamLstm, "spam-transformer": SpamTransformer}


def evaluate(model, seqs, labels, batch_size):
    model.eval()
    loss, correct, pred = 0.0, 0, []
    with torch.no_grad():
        for ids in batches(seqs, batch_size, False, False, None):
            x, lengths = collate(seqs, ids)
            y = torch.tensor([labels[i] for i in ids])
            logits = model(x, lengths)
            loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            p = logits.argmax(1)
            correct += (p == y).sum().item()
            pred += p.tolist()
    return loss / len(seqs), correct / len(seqs), pred


def minority_f1(labels, pred):
    tp = sum(1 for y, p in zip(labels, pred) if y == 1 and p == 1)
    fp = sum(1 for y, p in zip(labels, pred) if y == 0 and p == 1)
    fn = sum(1 for y, p in zip(labels, pred) if y == 1 and p == 0)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def train(name, data, seed, epochs, threads, config):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    kind = "names" if name.startswith("names") else "spam"
    r = recipe(name, config)
    batch_size, max_len, bucket, monitor = r["batch_size"], r["max_len"], r["bucket"], r["monitor"]
    ext = "csv" if kind == "names" else "jsonl"
    parts = {p: read(kind, os.path.join(data, kind, f"{p}.{ext}")) for p in ("train", "val", "test")}
    vocab = vocabulary(kind, parts["train"][0])
    seqs = {p: encode(kind, t, vocab, max_len) for p, (t, _) in parts.items()}
    labels = {p: y for p, (_, y) in parts.items()}
    model = MODELS[name](len(vocab) + 2)
    opt = getattr(torch.optim, r["optimizer"])(model.parameters(), lr=r["lr"], weight_decay=r["weight_decay"])
    gen = torch.Generator().manual_seed(seed)
    best, best_epoch, best_state, seconds = math.inf, 0, None, []
    for epoch in range(1, (epochs or r["epochs"]) + 1):
        start = time.perf_counter()
        model.train()
        for ids in batches(seqs["train"], batch_size, True, bucket, gen):
            x, lengths = collate(seqs["train"], ids)
            y = torch.tensor([labels["train"][i] for i in ids])
            opt.zero_grad()
            nn.functional.cross_entropy(model(x, lengths), y).backward()
            opt.step()
        val_loss, val_acc, _ = evaluate(model, seqs["val"], labels["val"], batch_size)
        seconds.append(time.perf_counter() - start)
        score = val_loss if monitor == "val_loss" else -val_acc
        if score < best:
            best, best_epoch = score, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= r["patience"]:
            break
    model.load_state_dict(best_state)
    _, acc, pred = evaluate(model, seqs["test"], labels["test"], batch_size)
    result = {
        "side": "pytorch",
        "model": name,
        "seed": seed,
        "test_accuracy": acc,
        "minority_f1": minority_f1(labels["test"], pred) if kind == "spam" else None,
        "best_epoch": best_epoch,
        "epoch_seconds": seconds,
    }
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("split")
    s.add_argument("dir")
    t = sub.add_parser("train")
    t.add_argument("model", choices=sorted(MODELS))
    t.add_argument("--data", required=True)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=None, help="cap on epochs (default: the config's)")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--config", help="read the recipe from this experiment file (default: the shipped one)")
    args = parser.parse_args()
    if args.command == "split":
        split(args.dir)
    else:
        train(args.model, args.data, args.seed, args.epochs, args.threads, args.config)


if __name__ == "__main__":
    main()
