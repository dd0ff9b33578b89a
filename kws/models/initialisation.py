"""Weight initialisation schemes, applied to a built network (`init=` in configs/train.yaml)."""

from torch import nn

from kws.errors import KWSError

SCHEMES = ("default", "kaiming", "xavier", "zeros")
_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.GRU, nn.LSTM)


def initialise(network: nn.Module, scheme: str) -> None:
    """Re-initialise every conv, linear and recurrent weight; biases become zero. Normalisation layers
    keep scale 1 / shift 0.

    default: PyTorch's per-layer initialisation (left as built). kaiming: He normal for the ReLU nets
    (fan-out for convolutions, as in ResNets). xavier: Glorot uniform. zeros: every weight 0 — kept as a
    lesson, it cannot learn: all units of a layer get the same gradient (here none) and stay identical.
    """
    if scheme not in SCHEMES:
        raise KWSError(f"init: unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if scheme == "default":
        return
    for module in network.modules():
        if not isinstance(module, _WEIGHTED):
            continue
        for name, param in module.named_parameters(recurse=False):
            if name.startswith("bias") or scheme == "zeros":
                nn.init.zeros_(param)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(param)
            else:
                mode = "fan_out" if isinstance(module, (nn.Conv1d, nn.Conv2d)) else "fan_in"
                nn.init.kaiming_normal_(param, mode=mode, nonlinearity="relu")
