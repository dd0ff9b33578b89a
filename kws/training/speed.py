"""Settings that make a training step faster on the hardware at hand without changing what is learnt:
bf16 autocast where the hardware computes bf16 natively, and channels-last convolution weights.

On the development CPU (2 cores, AVX-512 BF16) the default CNN's forward + backward + step runs 2.6x
faster with both and its whole epoch 1.8-2.1x (README, "A faster CPU epoch"). Validation and test stay fp32
(kws.training.module), so their figures are the exported fp32 model's.
"""

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)


# torch.cpu.get_capabilities()'s names for AVX512-BF16 and AMX (x86); tests/test_speed_options.py fails if a
# torch release renames them, rather than precision=auto quietly training in fp32.
NATIVE_BF16 = ("avx512_bf16", "amx_tile")


def _cpu_has_native_bf16() -> bool:
    # Without AVX512-BF16 or AMX, bf16 is emulated on the CPU: slower than fp32, so never chosen there.
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(name, False) for name in NATIVE_BF16)


def _uses_cuda(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def resolve_precision(precision: str, accelerator: str) -> str:
    """trainer.precision `auto`: bf16-mixed where the device computes bf16 natively, else 32-true."""
    if precision != "auto":
        return precision
    if _uses_cuda(accelerator):
        native, device = torch.cuda.is_bf16_supported(), "this GPU"
    else:
        native, device = _cpu_has_native_bf16(), "this CPU"
    resolved = "bf16-mixed" if native else "32-true"
    how = "computes" if native else "lacks"
    log.info("trainer.precision=auto: %s (%s %s bf16 natively)", resolved, device, how)
    return resolved


def use_channels_last(network: nn.Module) -> nn.Module:
    """4-D (2-D convolution) weights in channels-last layout, oneDNN's and cuDNN's fast path; 1-D
    convolutions, RNNs and linear layers are unchanged. Checkpoints load into either layout."""
    return network.to(memory_format=torch.channels_last)
