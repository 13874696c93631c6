"""VGG19 perceptual and texture losses: weights from the hub cache or a path (never downloaded),
layer choice, patch-wise Gram matrices."""

import pytest
import torch

from srlab.errors import SRLabError
from srlab.losses import PerceptualLoss, TextureLoss, VGGFeatures
from srlab.losses.perceptual import VGG19_URL, gram_matrix, patch_gram_matrices, vgg19_layer_names

pytestmark = pytest.mark.filterwarnings("ignore:VGG19 with random weights")


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A VGG19 state dict in torchvision's key format (random values), and its features module."""
    from torchvision.models.vgg import cfgs, make_layers

    full = make_layers(cfgs["E"], batch_norm=False)
    state = {f"features.{k}": v for k, v in full.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    path = tmp_path_factory.mktemp("vgg") / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    return path, full


def test_missing_imagenet_weights_say_which_file_goes_where(torch_hub):
    with pytest.raises(SRLabError) as err:
        PerceptualLoss("relu5_4")
    msg = str(err.value)
    assert str(torch_hub / "checkpoints" / "vgg19-dcbb9e9d.pth") in msg and VGG19_URL in msg
    assert "vgg_weights" in msg and "downloads are off" in msg
    assert not (torch_hub / "checkpoints").exists()  # nothing fetched
    with pytest.raises(SRLabError, match=r"VGG19 weights file not found: .*nope\.pth"):
        TextureLoss(vgg_weights=str(torch_hub / "nope.pth"))


def test_weights_from_hub_cache_or_path(torch_hub, vgg_file):
    path, full = vgg_file
    x = torch.rand(1, 3, 16, 16)
    imagenet = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    want = full[:2](imagenet)  # conv1_1 + relu1_1 of the saved weights
    by_path = VGGFeatures(["relu1_1"], vgg_weights=str(path))
    assert torch.allclose(by_path(x)["relu1_1"], want, atol=1e-6)
    (torch_hub / "checkpoints").mkdir(parents=True)
    (torch_hub / "checkpoints" / path.name).write_bytes(path.read_bytes())
    from_hub = VGGFeatures(["relu1_1"], vgg_weights="imagenet")
    assert torch.allclose(from_hub(x)["relu1_1"], want, atol=1e-6)
    bad = torch_hub / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(SRLabError, match="does not hold torchvision VGG19 weights"):
        VGGFeatures(["relu1_1"], vgg_weights=str(bad))


def test_layer_choice_before_and_after_activation():
    names = vgg19_layer_names()
    assert len(names) == 37 and names[34:37] == ["conv5_4", "relu5_4", "pool5"]
    f = VGGFeatures(["conv5_4", "relu5_4", "conv1_1"], vgg_weights="random")
    out = f(torch.rand(2, 3, 32, 32))
    assert out["conv5_4"].shape == (2, 512, 2, 2) and out["conv1_1"].shape == (2, 64, 32, 32)
    # ESRGAN's conv5_4 is taken before the ReLU (and is not overwritten by an in-place ReLU)
    assert (out["conv5_4"] < 0).any() and (out["relu5_4"] >= 0).all()
    assert torch.equal(torch.relu(out["conv5_4"]), out["relu5_4"])
    assert (out["conv1_1"] < 0).any()
    with pytest.raises(ValueError, match="unknown VGG19 layers"):
        VGGFeatures(["relu6_1"], vgg_weights="random")


def test_frozen_vgg_is_not_a_parameter_nor_saved_but_moves():
    loss = PerceptualLoss({"relu2_2": 1.0, "pool5": 0.5}, criterion="l1", vgg_weights="random")
    assert list(loss.parameters()) == [] and list(loss.state_dict()) == []
    loss.double()
    assert loss.features.vgg[0].weight.dtype == torch.float64
    loss.train()
    assert not loss.features.vgg.training


def test_perceptual_loss_values_and_gradient():
    loss = PerceptualLoss("relu2_2", vgg_weights="random")
    target = torch.rand(2, 3, 24, 24)
    assert loss(target.clone(), target).item() == 0.0
    pred = torch.rand(2, 3, 24, 24, requires_grad=True)
    value = loss(pred, target)
    feats = loss.features
    want = torch.nn.functional.mse_loss(feats(pred)["relu2_2"], feats(target)["relu2_2"])
    assert torch.allclose(value, want)
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    # Y input is seen as grey RGB
    y = torch.rand(1, 1, 16, 16)
    assert torch.allclose(feats(y)["relu2_2"], feats(y.expand(-1, 3, -1, -1))["relu2_2"])


def test_patch_gram_matrices_by_hand():
    feat = torch.rand(2, 4, 6, 9)
    grams = patch_gram_matrices(feat, 3)
    assert grams.shape == (2, 6, 4, 4)  # 2 x 3 tiles
    tile = feat[:, :, 3:6, 3:6]  # second row, second column: tile index 1 * 3 + 1
    f = tile.reshape(2, 4, 9)
    assert torch.allclose(grams[:, 4], f @ f.transpose(1, 2) / 9, atol=1e-6)
    assert torch.allclose(gram_matrix(tile), grams[:, 4], atol=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        patch_gram_matrices(feat, 7)


def test_texture_loss_is_local():
    torch.manual_seed(0)
    tex = TextureLoss({"relu1_1": 1.0, "relu2_1": 1.0}, patch_size=16, vgg_weights="random")
    whole = TextureLoss({"relu1_1": 1.0, "relu2_1": 1.0}, patch_size=32, vgg_weights="random")
    whole.features._vgg = tex.features._vgg  # same VGG for both
    noise, flat = torch.rand(1, 3, 32, 16), torch.full((1, 3, 32, 16), 0.5)
    target = torch.cat([noise, flat], dim=3)
    swapped = torch.cat([flat, noise], dim=3)  # same textures, other places
    assert tex(target.clone(), target).item() == 0.0
    # a whole-image Gram hardly sees the swap, the patch-wise one does
    assert tex(swapped, target) > 5 * whole(swapped, target)
    with pytest.raises(ValueError, match="multiple of the stride"):
        TextureLoss(["relu3_1"], patch_size=6, vgg_weights="random")
    with pytest.raises(ValueError, match="do not fit"):
        tex(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
