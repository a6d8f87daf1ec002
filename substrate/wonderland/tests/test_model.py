"""The model's batched, KV-cached, left-padded decoding equals naive one-row greedy decoding."""
import torch

from harness.generator import FAMILIES, generate_rows
from model.common import DEFAULT_CONFIG
from model.encoding import EOS, MAX_ANSWER, encode_example, encode_prompt
from model.gpt import GPT


def naive(model, prompt_ids, forced):
    seq = list(prompt_ids) + ([forced[0]] if forced else [])
    out = []
    with torch.no_grad():
        if forced:
            for k in range(len(forced)):
                y = int(model(torch.tensor([seq]))[0, -1].argmax())
                out.append(y)
                seq.append(y)
                if k + 1 < len(forced):
                    seq.append(forced[k + 1])
            return out
        for _ in range(MAX_ANSWER + 1):
            y = int(model(torch.tensor([seq]))[0, -1].argmax())
            out.append(y)
            seq.append(y)
            if y == EOS:
                break
    return out


def test_batched_generation_matches_naive():
    torch.manual_seed(3)
    model = GPT(DEFAULT_CONFIG).eval()
    with torch.no_grad():  # make the output less uniform than at init
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    rows = generate_rows(12, {f: 1.0 for f in FAMILIES}, 5)
    enc = [encode_prompt(r["prompt"]) for r in rows]
    got = model.generate([e[0] for e in enc], max_new=MAX_ANSWER + 1, eos=EOS, forced=[e[1] for e in enc])
    for (ids, forced), g in zip(enc, got):
        assert g == naive(model, ids, forced)


def test_aligned_families_transduce_the_query():
    rows = generate_rows(12, {"bit_manipulation": 1.0, "cipher": 1.0}, 9)
    for r in rows:
        ids, forced = encode_prompt(r["prompt"])
        assert forced is not None and len(forced) == len(r["answer"])
        seq, mask = encode_example(r["prompt"], r["answer"])
        assert len(seq) == len(ids) + 2 * len(r["answer"])
        assert sum(1 for m in mask if m == 1) == len(r["answer"])


def test_micro_batched_step_equals_the_full_batch_gradient():
    from model.train import accumulate_step, batch_loss, build_tensors

    rows = generate_rows(24, {f: 1.0 for f in FAMILIES}, 8)
    ids, lens, mask = build_tensors(rows)
    torch.manual_seed(0)
    a = GPT(DEFAULT_CONFIG)
    b = GPT(DEFAULT_CONFIG)
    b.load_state_dict(a.state_dict())
    loss, _ = batch_loss(a, ids, lens, mask, 0.3)
    loss.backward()
    value, _ = accumulate_step(b, ids, lens, mask, 0.3, chunks=3)
    assert abs(value - float(loss)) < 1e-5
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6, rtol=1e-4)
