"""The int8-ready forms of res8/res15 and BC-ResNet (issue 40): the shipped configs build them, and a
checkpoint's model config saved before their knobs existed still builds, loads and computes the old model."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from kws.errors import KWSError
from kws.models import build_network
from kws.models.bcresnet import MulSigmoidSiLU
from tests.conftest import compose_config

NUM_CLASSES = 4


def _model_config(tmp_path, model: str) -> dict:
    return dict(compose_config("train", tmp_path, [f"model={model}"]).model)


def _classifier(tmp_path, model_config: dict) -> nn.Module:
    features = dict(compose_config("train", tmp_path, ["model=cnn"]).features)
    torch.manual_seed(0)
    return build_network(model_config, features, NUM_CLASSES, 16000).classifier


def _with_statistics(classifier: nn.Module, features: torch.Tensor) -> nn.Module:
    """BatchNorm statistics and affine parameters that are not the identity, then eval mode."""
    with torch.no_grad():
        for module in classifier.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
        classifier.train()
        for _ in range(3):
            classifier(features)
    return classifier.eval()


def _features(batch: int = 6) -> torch.Tensor:
    return torch.randn(batch, 40, 61, generator=torch.Generator().manual_seed(1)) * 3 - 5


def _honk_forward(net: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """ResNetKWS.forward as it was before `order`: Conv → ReLU → (add) → non-affine BatchNorm."""
    x = net.pool(F.relu(net.conv0(net.input_norm(features).unsqueeze(1))))
    shortcut = x
    for i, (conv, norm) in enumerate(zip(net.convs, net.norms, strict=True)):
        x = F.relu(conv(x))
        if i % 2 == 1:
            x = x + shortcut
            shortcut = x
        x = norm(x)
    return net.head(x.mean(dim=(2, 3)))


@pytest.mark.parametrize("model", ["res8", "res15"])
def test_a_resnet_config_without_order_builds_and_computes_honks_model(tmp_path, model):
    old_config = _model_config(tmp_path, model)
    del old_config["order"]  # what a checkpoint saved before the knob stores
    old = _classifier(tmp_path, old_config)
    assert not any(norm.affine for norm in old.norms)
    features = _features(2) if model == "res15" else _features()
    old = _with_statistics(old, features)
    honk = _classifier(tmp_path, {**old_config, "order": "conv_relu_bn"})
    honk.load_state_dict(old.state_dict())  # strict: the same keys as before
    with torch.no_grad():
        assert torch.equal(old(features), _honk_forward(honk.eval(), features))


def test_the_shipped_res8_puts_each_batchnorm_after_its_conv_where_it_folds(tmp_path):
    config = _model_config(tmp_path, "res8")
    assert config["order"] == "conv_bn_relu"
    features = _features()
    net = _with_statistics(_classifier(tmp_path, config), features)
    assert all(norm.affine for norm in net.norms)
    folded = copy.deepcopy(net)
    for i, (conv, norm) in enumerate(zip(net.convs, net.norms, strict=True)):
        folded.convs[i] = fuse_conv_bn_eval(conv, norm)
        folded.norms[i] = nn.Identity()
    with torch.no_grad():
        logits = net(features)
        assert logits.shape == (len(features), NUM_CLASSES)
        torch.testing.assert_close(folded(features), logits, atol=1e-5, rtol=1e-5)


def test_the_shipped_res15_uses_the_foldable_order(tmp_path):
    assert _model_config(tmp_path, "res15")["order"] == "conv_bn_relu"


def _bcresnet_config(tmp_path, **forms) -> dict:
    config = {**_model_config(tmp_path, "bcresnet"), "tau": 1, **forms}
    return {key: value for key, value in config.items() if value is not None}


def test_a_bcresnet_config_without_the_forms_builds_the_original_layers(tmp_path):
    old = _classifier(tmp_path, _bcresnet_config(tmp_path, ssn_eval=None, silu=None))
    assert any(isinstance(m, nn.SiLU) for m in old.modules())
    assert not any(isinstance(m, MulSigmoidSiLU) for m in old.modules())
    assert not any(getattr(m, "broadcast_in_eval", False) for m in old.modules())


def test_the_int8_ready_bcresnet_forms_compute_the_same_function_from_the_same_state_dict(tmp_path):
    features = _features()
    original = _with_statistics(
        _classifier(tmp_path, _bcresnet_config(tmp_path, ssn_eval="reshape", silu="fused")), features
    )
    ready = _classifier(tmp_path, _bcresnet_config(tmp_path, ssn_eval="broadcast", silu="mul_sigmoid"))
    ready.load_state_dict(original.state_dict())  # strict: the same keys
    with torch.no_grad():
        logits = original(features)
        assert logits.shape == (len(features), NUM_CLASSES)
        torch.testing.assert_close(ready.eval()(features), logits, atol=1e-5, rtol=1e-5)
        torch.manual_seed(2)
        trained_as = original.train()(features)
        torch.manual_seed(2)
        torch.testing.assert_close(ready.train()(features), trained_as, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [("res8", "order", "bn_conv_relu"), ("bcresnet", "ssn_eval", "fold"), ("bcresnet", "silu", "relu")],
)
def test_an_unknown_form_is_a_kws_error_naming_the_field(tmp_path, model, field, value):
    config = {**_model_config(tmp_path, model), field: value}
    with pytest.raises(Exception, match=f"model.{field}: '{value}' is not one of") as raised:
        _classifier(tmp_path, config)
    assert isinstance(raised.value.__cause__ or raised.value, KWSError)  # Hydra wraps what the class raises


def test_the_shipped_bcresnet_chooses_the_int8_ready_forms(tmp_path):
    config = _model_config(tmp_path, "bcresnet")
    assert (config["ssn_eval"], config["silu"]) == ("broadcast", "mul_sigmoid")
