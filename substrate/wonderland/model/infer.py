"""Batched greedy inference: prompts -> model text -> ``\\boxed{...}`` outputs (frozen)."""
from __future__ import annotations

from typing import List

import torch

from model.encoding import EOS, MAX_ANSWER, PAD, decode_ids, encode_prompt
from model.gpt import GPT


def generate_answers(model: GPT, prompts: List[str], batch_size: int = 200) -> List[str]:
    """The model's answer text for each prompt (greedy, at most MAX_ANSWER characters)."""
    model.eval()
    encoded = [encode_prompt(p) for p in prompts]
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i][0]), i))  # similar lengths batch together
    out: List[str] = [""] * len(encoded)
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            gens = model.generate(
                [encoded[i][0] for i in idx], max_new=MAX_ANSWER + 1, eos=EOS, pad=PAD,
                    forced=[encoded[i][1] for i in idx]
            )
            for i, g in zip(idx, gens):
                out[i] = decode_ids(g)
    return out


def as_submission(answer_text: str) -> str:
    """What the model 'says': its answer wrapped the way the challenge expects it to be reported."""
    return "\\boxed{" + answer_text + "}"
