"""Checkpointed layer inputs kept in host memory give the same training numbers.

On CPU the offloader's "host" copy is a clone and no stream is used, so these tests check
the hook plumbing (what is moved, in which order it comes back, that gradients are exact);
tests/training/test_train_gpu.py runs it with real pinned copies and streams on CUDA.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from harness.accel import offload_saved_inputs


def _model(path: Path) -> Any:
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules="all-linear")
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.1)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    model.enable_input_require_grads()
    model.train()
    return model


def _step(model: Any, offload: bool) -> tuple[list[torch.Tensor], Any]:
    ids = torch.tensor([[5, 9, 13, 40, 7, 3, 22, 8], [1, 4, 19, 33, 2, 6, 11, 12]])
    model.zero_grad()
    with offload_saved_inputs(model.get_base_model().model, offload, min_bytes=1) as stats:
        torch.manual_seed(3)  # the same dropout masks in both runs
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    return [loss.detach(), *grads], stats


def test_offloaded_inputs_give_the_same_loss_and_gradients(tiny_model_dir: Path) -> None:
    model = _model(tiny_model_dir)
    ref, none = _step(model, False)
    got, stats = _step(model, True)
    assert none.tensors == 0
    n_layers = model.config.num_hidden_layers
    lora_tensors = 2 * 7 * n_layers
    assert len(ref) == len(got) == 1 + lora_tensors
    for r, g in zip(ref, got, strict=True):
        torch.testing.assert_close(g, r, atol=0, rtol=0)
    # Each checkpointed layer's input went out first (then what the final norm saves), and
    # backward took every one back, the layer inputs last and in reverse order.
    assert stats.tensors > n_layers
    assert sorted(stats.seen) == list(range(stats.tensors))
    assert stats.seen[-n_layers:] == list(range(n_layers))[::-1]


def test_nothing_moves_without_grad_or_below_the_size_floor(tiny_model_dir: Path) -> None:
    model = _model(tiny_model_dir)
    ids = torch.tensor([[5, 9, 13, 40]])
    decoder = model.get_base_model().model
    with offload_saved_inputs(decoder, True, min_bytes=1) as stats, torch.no_grad():
        model(input_ids=ids)
    assert stats.tensors == 0
    with offload_saved_inputs(decoder, True, min_bytes=1 << 30) as stats:
        model(input_ids=ids, labels=ids).loss.backward()
    assert stats.tensors == 0


def test_hooks_are_removed_on_exit_even_after_an_error(tiny_model_dir: Path) -> None:
    model = _model(tiny_model_dir)
    decoder = model.get_base_model().model
    with pytest.raises(RuntimeError), offload_saved_inputs(decoder, True, min_bytes=1):
        model(input_ids=torch.tensor([[5, 9]]), labels=torch.tensor([[5, 9]]))
        raise RuntimeError("stop")
    assert not decoder._forward_pre_hooks and not decoder._forward_hooks
    # no saved-tensor hooks left installed: a plain step runs and saves on the device
    loss = model(input_ids=torch.tensor([[5, 9, 4]]), labels=torch.tensor([[5, 9, 4]])).loss
    loss.backward()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pinned_copies_on_a_side_stream_give_the_same_gradients(tiny_model_dir_64: Path) -> None:
    # The real path: pinned host buffers, copies on a side stream, the next layer's input
    # brought back while the current one is recomputed (nox -s gpu).
    model = _model(tiny_model_dir_64).cuda()
    ids = torch.randint(4, 300, (4, 64), generator=torch.Generator().manual_seed(0)).cuda()

    def step(offload: bool) -> tuple[list[torch.Tensor], Any]:
        model.zero_grad()
        with offload_saved_inputs(model.get_base_model().model, offload, min_bytes=1) as stats:
            torch.manual_seed(3)
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
        torch.cuda.synchronize()
        return [
            loss.detach(),
            *(p.grad.clone() for p in model.parameters() if p.grad is not None),
        ], stats

    ref, _ = step(False)
    got, stats = step(True)
    assert stats.tensors > model.config.num_hidden_layers
    assert stats.prefetched >= model.config.num_hidden_layers - 1
    for r, g in zip(ref, got, strict=True):
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-5)
