import pytest
import torch

from recommender.ml.dropout import Dropout, keep_mask


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_masks_keep_one_minus_p_and_scale_the_kept_elements(p):
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([1000, 1000]), p)
    assert mask.dtype == torch.bool and mask.shape == (1000, 1000)
    assert abs(mask.float().mean().item() - (1 - p)) < 0.002  # 1M draws: sd ~0.0005
    drop = Dropout(p).train()
    x = torch.ones(200, 300, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient goes through the same mask and scale


def test_masks_follow_torch_manual_seed_and_differ_between_calls():
    torch.manual_seed(7)
    first, second = keep_mask(torch.Size([64, 64]), 0.5), keep_mask(torch.Size([64, 64]), 0.5)
    torch.manual_seed(7)
    assert torch.equal(keep_mask(torch.Size([64, 64]), 0.5), first)
    assert not torch.equal(first, second)
    # rows and columns are not correlated: each element has its own 16 bits
    assert abs(first.float().mean().item() - 0.5) < 0.05


def test_eval_mode_and_zero_p_pass_the_input_through():
    x = torch.randn(5, 7)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        Dropout(1.0)


def test_the_config_chooses_where_the_towers_draw_their_masks():
    from torch import nn

    from recommender.ml.dropout import Dropout
    from recommender.ml.model import Tower
    from recommender.ml.train import TrainConfig

    def dropouts(config):
        tower = Tower.for_branches(5, 7, 0, ("graph", "sequence"), **config.tower_kwargs())
        return {type(tower.dropout), type(tower.sequence_dropout)}

    assert dropouts(TrainConfig()) == {nn.Dropout}  # the tables' masks, bit for bit
    assert dropouts(TrainConfig(dropout_masks="pcg64")) == {Dropout}
    with pytest.raises(ValueError, match="dropout_masks must be one of torch, pcg64"):
        TrainConfig(dropout_masks="fast")
