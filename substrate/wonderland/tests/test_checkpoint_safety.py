"""A checkpoint is written by candidate code: loading it must never run code it carries."""
import os

import pytest
import torch

from model.common import load_model


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/aevo-pickle-ran",))


def test_a_checkpoint_that_carries_code_is_refused_not_run(tmp_path):
    marker = "/tmp/aevo-pickle-ran"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "weights.pt"
    torch.save({"config": {}, "state_dict": _RunsCode()}, str(path))
    with pytest.raises(Exception):
        load_model(str(path))
    assert not os.path.exists(marker)


def test_the_base_checkpoint_still_loads():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert type(load_model(os.path.join(here, "base", "checkpoint.pt"))).__name__ == "GPT"
