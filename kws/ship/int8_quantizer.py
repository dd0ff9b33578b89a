"""litert-torch's PT2E quantizer, plus the int8 annotations its annotators miss on kws's models.

- Every aten add and mul: with torch 2.11, `torch.export` leaves no `source_fn_stack` on `x + y` or
  `x * y`, and litert's add and mul annotators look ops up by it, so res8's residual adds and BC-ResNet's
  sub-spectral norm (`x * scale + shift`) and `x * sigmoid(x)` would stay float.
- The input of every global mean that has no observer: a mean after an op litert does not annotate
  (TC-ResNet's last `F.relu(y + shortcut)`) would stay float, with its ADD and a QUANTIZE; observing what
  the mean reads, and giving the mean the same scale, makes them int8.

Models whose ops are already annotated (CNN, DS-CNN) come out as with the stock quantizer. Imported by
kws.ship.int8_tflite; litert-torch and torchao (the device extra) only when a quantizer is made, so
the module imports without them.
"""

import torch

ANNOTATION = "quantization_annotation"
ELEMENTWISE = {torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor}


def _has_output_qspec(node: torch.fx.Node) -> bool:
    annotation = node.meta.get(ANNOTATION)
    return annotation is not None and annotation.output_qspec is not None


def annotate_elementwise(model: torch.fx.GraphModule, activation) -> None:
    """int8 in and out for every aten add and mul not yet annotated (before litert's annotators run)."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    for node in model.graph.nodes:
        if node.target in ELEMENTWISE and ANNOTATION not in node.meta:
            operands = [arg for arg in node.args[:2] if isinstance(arg, torch.fx.Node)]
            node.meta[ANNOTATION] = QuantizationAnnotation(
                input_qspec_map={arg: activation for arg in operands},
                output_qspec=activation,
                _annotated=True,
            )


def annotate_means(model: torch.fx.GraphModule, activation) -> None:
    """An observer on what each unobserved global mean reads, the mean sharing its scale (after litert's)."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    for node in model.graph.nodes:
        if node.target != torch.ops.aten.mean.dim or ANNOTATION in node.meta:
            continue
        source = node.args[0]
        if _has_output_qspec(source):
            continue
        node.meta[ANNOTATION] = QuantizationAnnotation(
            input_qspec_map={source: activation},
            output_qspec=SharedQuantizationSpec((source, node)),
            _annotated=True,
        )


def per_channel_quantizer():
    """litert-torch's PT2EQuantizer with the annotations above: int8 activations and symmetric
    per-channel int8 weights, as TFLM's int8 kernels expect."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    class FullIntegerQuantizer(PT2EQuantizer):
        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            activation = self.global_config.input_activation
            annotate_elementwise(model, activation)
            model = super().annotate(model)
            annotate_means(model, activation)
            return model

    return FullIntegerQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
