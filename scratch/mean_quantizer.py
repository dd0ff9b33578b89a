"""litert-torch's PT2EQuantizer, plus an observer on the input of every global mean that has none.

Its annotators leave a mean float when the op before it is not one they annotate (TC-ResNet's last
`F.relu(y + shortcut)`): then the residual ADD, the MEAN and a QUANTIZE stay float in the .tflite.
"""

import torch
from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
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
            # ReLU, a view, an add before it: observe what the mean reads; the mean keeps its scale.
            node.meta[ANNOTATION] = QuantizationAnnotation(
                input_qspec_map={source: activation},
                output_qspec=SharedQuantizationSpec((source, node)),
                _annotated=True,
            )
        return model
