"""A small decoder-only character transformer with optional LoRA adapters and KV-cached decoding (frozen)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int
    block: int
    d_model: int = 96
    n_layer: int = 2
    n_head: int = 4
    d_ff: int = 384

    def to_dict(self) -> dict:
        return asdict(self)


class LoRALinear(nn.Module):
    """``y = W x + (alpha/r) * B A x`` with W frozen; B starts at zero so the adapter starts as a no-op."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.rank = rank
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged(self) -> nn.Linear:
        with torch.no_grad():
            self.base.weight += (self.lora_b @ self.lora_a) * self.scale
        return self.base


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x, bias, cache: Optional[Tuple[torch.Tensor, torch.Tensor]] = None):
        B, T, C = x.shape
        h = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, h, C // h).transpose(1, 2)
        k = k.view(B, T, h, C // h).transpose(1, 2)
        v = v.view(B, T, h, C // h).transpose(1, 2)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // h))
        att = att + bias
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.out = nn.Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x, bias, cache=None):
        a, kv = self.attn(self.ln1(x), bias, cache)
        x = x + a
        x = x + self.out(F.gelu(self.fc(self.ln2(x))))
        return x, kv


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.block, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def logits(self, x):
        return self.ln_f(x) @ self.tok.weight.t()  # tied input/output embedding

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Training forward: right-padded ids (B, T) -> logits (B, T, V); causal attention."""
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.tok(idx) + self.pos(pos)[None]
        bias = torch.full((T, T), float("-inf"), device=idx.device).triu(1)[None, None]
        for blk in self.blocks:
            x, _ = blk(x, bias)
        return self.logits(x)

    # ------------------------------------------------------------------------------ LoRA
    def add_lora(self, rank: int, alpha: float) -> None:
        """Freeze every base weight and put rank-r adapters on all attention and MLP projections."""
        for p in self.parameters():
            p.requires_grad_(False)
        for blk in self.blocks:
            blk.attn.qkv = LoRALinear(blk.attn.qkv, rank, alpha)
            blk.attn.proj = LoRALinear(blk.attn.proj, rank, alpha)
            blk.fc = LoRALinear(blk.fc, rank, alpha)
            blk.out = LoRALinear(blk.out, rank, alpha)

    def merge_lora(self) -> None:
        for blk in self.blocks:
            for owner, name in ((blk.attn, "qkv"), (blk.attn, "proj"), (blk, "fc"), (blk, "out")):
                mod = getattr(owner, name)
                if isinstance(mod, LoRALinear):
                    setattr(owner, name, mod.merged())
        for p in self.parameters():
            p.requires_grad_(True)

    # ------------------------------------------------------------------------- generation
    def _prefill(self, prompts: List[List[int]], pad: int):
        dev = self.tok.weight.device
        B = len(prompts)
        L = max(len(p) for p in prompts)
        ids = torch.full((B, L), pad, dtype=torch.long, device=dev)
        valid = torch.zeros((B, L), dtype=torch.bool, device=dev)
        for i, p in enumerate(prompts):
            ids[i, L - len(p):] = torch.tensor(p, dtype=torch.long, device=dev)
            valid[i, L - len(p):] = True
        offset = L - torch.tensor([len(p) for p in prompts], device=dev)  # left-pad count per row
        pos = (torch.arange(L, device=dev)[None] - offset[:, None]).clamp(min=0)
        causal = torch.ones((L, L), dtype=torch.bool, device=dev).tril()
        allowed = (causal[None] & valid[:, None, :]) | torch.eye(L, dtype=torch.bool, device=dev)[None]
        bias = torch.zeros((B, 1, L, L), device=dev).masked_fill(~allowed[:, None], float("-inf"))
        x = self.tok(ids) + self.pos(pos.clamp(max=self.cfg.block - 1))
        caches = []
        for blk in self.blocks:
            x, kv = blk(x, bias)
            caches.append(kv)
        return self.logits(x[:, -1]), caches, valid, pos[:, -1] + 1

    @torch.no_grad()
    def generate(
        self,
        prompts: List[List[int]],
        max_new: int,
        eos: int,
        pad: int = 0,
        forced: Optional[List[Optional[List[int]]]] = None,
    ) -> List[List[int]]:
        """Greedy decoding of a batch of prompts of different lengths (left padding + KV cache).

        ``forced[i]`` (aligned families) is the query to transduce: the row's input continues with
        ``q1``; after each fed ``q_k`` the model's prediction is recorded as ``o_k`` and fed back, then
        ``q_{k+1}`` is fed (the prediction made after ``o_k`` is ignored); the row ends after ``o_n``.
        Other rows record every prediction and end at EOS or after ``max_new`` tokens.
        """
        dev = self.tok.weight.device
        B = len(prompts)
        forced = forced or [None] * B
        rows = [list(p) + ([f[0]] if f else []) for p, f in zip(prompts, forced)]
        logits, caches, key_valid, next_pos = self._prefill(rows, pad)
        out: List[List[int]] = [[] for _ in range(B)]
        done = [False] * B
        expect = [True] * B  # aligned rows: the current prediction is an output character
        k = [1] * B  # aligned rows: index of the next query character to feed
        limit = max([max_new] + [2 * len(f) for f in forced if f])
        for _ in range(limit):
            y = logits.argmax(-1).tolist()
            feed = [pad] * B
            for i in range(B):
                if done[i]:
                    continue
                f = forced[i]
                if f:
                    if expect[i]:
                        out[i].append(y[i])
                        feed[i] = y[i]
                        expect[i] = False
                        if len(out[i]) >= len(f):
                            done[i] = True
                    else:
                        feed[i] = f[k[i]]
                        k[i] += 1
                        expect[i] = True
                else:
                    out[i].append(y[i])
                    feed[i] = y[i]
                    if y[i] == eos or len(out[i]) >= max_new:
                        done[i] = True
            if all(done):
                break
            nxt = torch.tensor(feed, dtype=torch.long, device=dev)
            key_valid = torch.cat([key_valid, torch.ones((B, 1), dtype=torch.bool, device=dev)], dim=1)
            sbias = torch.zeros((B, 1, 1, key_valid.shape[1]), device=dev).masked_fill(
                ~key_valid[:, None, None, :], float("-inf")
            )
            h = self.tok(nxt)[:, None] + self.pos(next_pos.clamp(max=self.cfg.block - 1))[:, None]
            new_caches = []
            for blk, cache in zip(self.blocks, caches):
                h, kv = blk(h, sbias, cache)
                new_caches.append(kv)
            caches = new_caches
            next_pos = next_pos + 1
            logits = self.logits(h[:, -1])
        return out


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
