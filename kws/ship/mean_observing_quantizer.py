"""litert-torch's PT2E quantizer, plus an observer on the input of every global mean that has none.

litert-torch's annotators leave a mean float when the op before it is one they do not annotate
(TC-ResNet's last `F.relu(y + shortcut)`): the residual ADD, the MEAN and a QUANTIZE then stay float in
the .tflite. Observing what the mean reads, and giving the mean the same scale, makes them int8. Models
whose means are already observed (CNN, DS-CNN) come out the same as with the stock quantizer. Imported
only by kws.ship.int8_tflite, when the device extra is there.
"""

import torch
from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

ANNOTATION = "quantization_annotation"


def _has_output_qspec(node: torch.fx.Node) -> bool:
    annotation = node.meta.get(ANNOTATION)
    return annotation is not None and annotation.output_qspec is not None


class MeanObservingQuantizer(PT2EQuantizer):
    def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
        model = super().annotate(model)
        activation = self.global_config.input_activation
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
        return model


def per_channel_quantizer() -> MeanObservingQuantizer:
    """int8 activations and symmetric per-channel int8 weights, as TFLM's int8 kernels expect."""
    return MeanObservingQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
