"""mean_quantizer.MeanObservingQuantizer plus an int8 annotation of every aten add and mul that litert's
source-partition annotators miss: torch 2.11's export leaves no source_fn_stack on `x + y` or `x * y`, so
res8's residual adds and BC-ResNet's SSN and x·sigmoid(x) would stay float."""

import torch
from mean_quantizer import ANNOTATION, MeanObservingQuantizer
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

BINARY = {torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor}


class ElementwiseQuantizer(MeanObservingQuantizer):
    def annotate(self, model):
        activation = self.global_config.input_activation
        for node in model.graph.nodes:
            if node.target not in BINARY or ANNOTATION in node.meta:
                continue
            inputs = [a for a in node.args[:2] if isinstance(a, torch.fx.Node)]
            node.meta[ANNOTATION] = QuantizationAnnotation(
                input_qspec_map={a: activation for a in inputs}, output_qspec=activation, _annotated=True
            )
        return super().annotate(model)
