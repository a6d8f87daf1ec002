"""Shared plumbing for the entrypoints (frozen): threads, seeding, sizes, recipe and checkpoint I/O.

Import this module before torch: it pins the BLAS/OpenMP thread pools first.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import sys
from typing import Dict, List, Optional, Tuple

# On the 2-core reference box, 2 intra-op threads were ~3x *slower* than 1 for this model size
# (OpenMP + OpenBLAS oversubscription, worse when other jobs share the cores), so default to 1.
_THREADS = os.environ.get("WONDERLAND_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import torch  # noqa: E402

from harness.generator import FAMILIES  # noqa: E402
from model.encoding import BLOCK, VOCAB_SIZE  # noqa: E402
from model.gpt import GPT, GPTConfig  # noqa: E402

DOMAINS = list(FAMILIES)

SUBSTRATE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Sizes scale the recipe (written for `cpu`) without changing the model: the base checkpoint fixes it.
SIZES: Dict[str, dict] = {
    # smoke size for tests: a handful of steps on a small batch, small data, a 1/10 subsample of dev
    "tiny": {"max_steps": 8, "max_batch": 16, "max_rows": 300, "eval_stride": 10},
    # the reference size: one candidate (prepare + train + evaluate) in about 75 s on one CPU core
    "cpu": {"steps_scale": 1.0, "batch_scale": 1, "eval_stride": 1},
    # for CUDA: 4x the steps at 4x the batch (16x the examples)
    "gpu": {"steps_scale": 4.0, "batch_scale": 4, "eval_stride": 1},
}

DEFAULT_CONFIG = GPTConfig(vocab_size=VOCAB_SIZE, block=BLOCK, d_model=96, n_layer=2, n_head=4, d_ff=384)


def setup_torch(seed: int) -> None:
    torch.set_num_threads(max(1, int(_THREADS)))
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except TypeError:  # older torch
        torch.use_deterministic_algorithms(True)


def pick_device(requested: Optional[str]) -> str:
    req = (requested or "auto").lower()
    if req in ("auto", "", "{device}"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if req.startswith("cuda") and not torch.cuda.is_available():
        print(f"warning: device {req} requested but CUDA is not available; using cpu", file=sys.stderr)
        return "cpu"
    return req


def check_size(size: Optional[str]) -> str:
    s = (size or "cpu").lower()
    if s not in SIZES:
        raise SystemExit(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
    return s


# ------------------------------------------------------------------------------------------ files
def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_recipe(path: str) -> Tuple[dict, str]:
    import yaml

    with open(path, "rb") as f:
        raw = f.read()
    recipe = yaml.safe_load(raw.decode("utf-8")) or {}
    if not isinstance(recipe, dict):
        raise SystemExit(f"{path}: a recipe must be a mapping")
    return recipe, hashlib.sha256(raw).hexdigest()


def read_rows(path: str) -> List[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_rows(path: str, rows: List[dict], fields: List[str]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def write_json(path: str, doc) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------ checkpoints
WEIGHTS = "model.pt"


def weights_path(checkpoint: str) -> str:
    """A checkpoint is a directory holding model.pt (+ checkpoint.json) or a .pt file (the base)."""
    if os.path.isdir(checkpoint):
        return os.path.join(checkpoint, WEIGHTS)
    return checkpoint


def save_model(model: GPT, path: str) -> None:
    sd = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    torch.save({"config": model.cfg.to_dict(), "state_dict": sd}, path)


def load_model(checkpoint: str, device: str = "cpu") -> GPT:
    path = weights_path(checkpoint)
    if not os.path.exists(path):
        raise SystemExit(f"no weights at {path}")
    # A checkpoint is candidate output: unpickle tensors and plain containers only, never code it could carry.
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**blob["config"]))
    model.load_state_dict(blob["state_dict"])
    return model.to(device)


def checkpoint_size(checkpoint: str) -> str:
    info = os.path.join(checkpoint, "checkpoint.json") if os.path.isdir(checkpoint) else None
    if info and os.path.exists(info):
        with open(info) as f:
            return json.load(f).get("size", "cpu")
    return "cpu"
