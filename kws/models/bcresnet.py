"""BC-ResNet: broadcasted residual learning with sub-spectral normalisation.

Kim, Chang, Lee, Sung: "Broadcasted Residual Learning for Efficient Keyword Spotting", Interspeech 2021
(https://arxiv.org/abs/2106.04140); layout as in Qualcomm-AI-research/bcresnet. Each block runs a cheap
frequency-wise depthwise conv on the 2-D [frequency, time] map (f2), averages over frequency, runs a dilated
temporal depthwise conv + 1x1 conv on that 1-D sequence (f1), and broadcasts the result back over frequency
as a residual. Sub-spectral normalisation (Chang et al. 2021) keeps separate BatchNorm statistics for each
of `sub_bands` frequency bands, since low and high bands behave differently.

Config knobs: `tau` is the width multiplier (BC-ResNet-τ: base width 8τ; 1 → ~9k params, 8 → ~320k with 40
mel bins), `sub_bands` the SSN bands, `dropout` the channel dropout in every block, and two that only change
how the same function is written, so that a full-integer int8 conversion (PT2E) can express it:
`ssn_eval: broadcast` applies the trained SSN in eval mode as x·scale + shift with per-(channel, row)
constants (a BatchNorm on a reshaped tensor lowers to float SUB and MUL), and `silu: mul_sigmoid` writes
SiLU as x·sigmoid(x) (litert's quantizer annotates sigmoid and mul, not silu). Their defaults, `reshape`
and `fused`, are the original forms, which checkpoints saved before these knobs build; the parameters and
state-dict keys are the same in every form.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kws.errors import KWSError

SSN_EVAL_FORMS = ("reshape", "broadcast")
SILU_FORMS = ("fused", "mul_sigmoid")


def _check_form(field: str, value: str, forms: tuple[str, ...]) -> None:
    if value not in forms:
        raise KWSError(f"model.{field}: {value!r} is not one of {', '.join(forms)}")


class SubSpectralNorm(nn.Module):
    """BatchNorm with statistics per frequency band: [b, c, f, t] normalised as [b, c·bands, f/bands, t]."""

    def __init__(self, channels: int, bands: int, eval_form: str = "reshape") -> None:
        super().__init__()
        self.bands = bands
        self.broadcast_in_eval = eval_form == "broadcast"
        self.norm = nn.BatchNorm2d(channels * bands)

    def forward(self, x: Tensor) -> Tensor:
        b, c, f, t = x.shape
        if self.broadcast_in_eval and not self.training:
            scale, shift = self._affine(c, f)
            return x * scale + shift
        return self.norm(x.reshape(b, c * self.bands, f // self.bands, t)).reshape(b, c, f, t)

    def _affine(self, channels: int, freq: int) -> tuple[Tensor, Tensor]:
        """The eval-mode BatchNorm as [channels, freq, 1] scale and shift: band k's statistics on its rows."""
        norm = self.norm
        scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
        shift = norm.bias - norm.running_mean * scale
        rows = freq // self.bands
        scale = scale.reshape(channels, self.bands, 1).repeat_interleave(rows, dim=1)
        shift = shift.reshape(channels, self.bands, 1).repeat_interleave(rows, dim=1)
        return scale, shift


class MulSigmoidSiLU(nn.Module):
    """SiLU as x·sigmoid(x): the same function, in ops a PT2E int8 quantizer annotates."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(x)


class BCResBlock(nn.Module):
    def __init__(
        self,
        cin: int,
        cout: int,
        freq: int,
        stride: int,
        dilation: int,
        sub_bands: int,
        dropout: float,
        ssn_eval: str = "reshape",
        silu: str = "fused",
    ) -> None:
        """`freq`: the output frequency size; SSN uses fewer bands where `sub_bands` does not divide it."""
        super().__init__()
        self.transition = cin != cout  # a width change: no identity shortcut
        f2: list[nn.Module] = []
        if self.transition:
            f2 += [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        f2 += [
            nn.Conv2d(cout, cout, (3, 1), stride=(stride, 1), padding=(1, 0), groups=cout, bias=False),
            SubSpectralNorm(cout, math.gcd(freq, sub_bands), ssn_eval),
        ]
        self.f2 = nn.Sequential(*f2)
        self.f1 = nn.Sequential(
            nn.Conv2d(
                cout, cout, (1, 3), padding=(0, dilation), dilation=(1, dilation), groups=cout, bias=False
            ),
            nn.BatchNorm2d(cout),
            MulSigmoidSiLU() if silu == "mul_sigmoid" else nn.SiLU(),
            nn.Conv2d(cout, cout, 1, bias=False),
            nn.Dropout2d(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        y = self.f2(x)
        out = y + self.f1(y.mean(dim=2, keepdim=True))  # [b, c, 1, t] broadcast over frequency
        if not self.transition:
            out = out + x
        return F.relu(out)


class BCResNet(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        tau: float = 8,
        sub_bands: int = 5,
        dropout: float = 0.1,
        ssn_eval: str = "reshape",
        silu: str = "fused",
    ) -> None:
        super().__init__()
        _check_form("ssn_eval", ssn_eval, SSN_EVAL_FORMS)
        _check_form("silu", silu, SILU_FORMS)
        base = round(8 * tau)
        widths = [2 * base, base, int(1.5 * base), 2 * base, int(2.5 * base), 4 * base]
        self.input_norm = nn.BatchNorm1d(n_mels)  # learned per-band normalisation of raw log-mel levels
        self.head = nn.Sequential(
            nn.Conv2d(1, widths[0], 5, stride=(2, 1), padding=2, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        freq = (n_mels + 1) // 2
        blocks: list[nn.Module] = []
        # Stages of 2, 2, 4, 4 blocks; stages 1 and 2 halve the frequency axis; time dilation 1, 2, 4, 8.
        for stage, repeats in enumerate((2, 2, 4, 4)):
            for i in range(repeats):
                stride = 2 if stage in (1, 2) and i == 0 else 1
                freq = (freq + stride - 1) // stride
                cin = widths[stage] if i == 0 else widths[stage + 1]
                blocks.append(
                    BCResBlock(
                        cin, widths[stage + 1], freq, stride, 2**stage, sub_bands, dropout, ssn_eval, silu
                    )
                )
        self.blocks = nn.Sequential(*blocks)
        c = widths[-2]
        # The paper's 5x5 depthwise conv collapses the last 5 frequency rows (of 40 mels); fewer rows, a
        # smaller kernel.
        self.classifier = nn.Sequential(
            nn.Conv2d(c, c, (min(5, freq), 5), padding=(0, 2), groups=c, bias=False),
            nn.Conv2d(c, widths[-1], 1, bias=False),
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Linear(widths[-1], num_classes)  # = the paper's final 1x1 conv after pooling

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        x = self.blocks(self.head(self.input_norm(features).unsqueeze(1)))
        return self.out(self.classifier(x).mean(dim=(2, 3)))
