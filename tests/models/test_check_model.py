"""check_model: every model of the library honours the contract, and broken models are caught."""

from __future__ import annotations

import pytest
import torch

from rnnscope.errors import ModelContractError
from rnnscope.models import Hopfield, RateRNN, WongWang, check_model, random_network

from _zoo import every_model


@pytest.mark.parametrize("name, build", every_model(), ids=[n for n, _ in every_model()])
def test_every_model_passes_check_model(name, build):
    model = build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    check_model(model)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the model is left as it was


class _WrongJacobian(RateRNN):
    def flow_jacobian(self, x, drive):
        return 1.01 * super().flow_jacobian(x, drive)


class _WrongProduct(RateRNN):
    def jacobian_product_fn(self):
        inner = super().jacobian_product_fn()

        def jvp(x, Q, drive, *, scale=1.0, add=0.0, out=None):
            return inner(x, Q, drive, scale=scale, add=add + 0.01, out=out)

        return jvp


class _WrongFactors(RateRNN):
    def low_rank_factors(self):
        f = super().low_rank_factors()
        return type(f)(**{**f.__dict__, "n": 2 * f.n})


class _WrongTimeConstant(RateRNN):
    @property
    def time_constant(self):
        return -1.0


@pytest.mark.parametrize("model, message", [
    (_WrongJacobian(2, 6, 1, seed=0), "flow_jacobian differs from the autograd Jacobian"),
    (_WrongProduct(2, 6, 1, seed=0), "jacobian_product_fn"),
    (_WrongFactors(2, 6, 1, rank=1, seed=0), "not the rate-network form its low_rank_factors promise"),
    (_WrongTimeConstant(2, 6, 1, seed=0), "time_constant must be None or a float > 0"),
])
def test_check_model_catches_a_broken_declaration(model, message):
    with pytest.raises(ModelContractError, match=message):
        check_model(model)


def test_check_model_refuses_what_is_not_a_model():
    with pytest.raises(ModelContractError, match="is not an AbstractRNN"):
        check_model(torch.nn.Linear(2, 2))


def test_library_models_are_in_the_zoo():
    # a new model class must be added to tests/models/_zoo.py so that check_model runs on it
    import rnnscope.models as models

    classes = {obj for obj in vars(models).values()
               if isinstance(obj, type) and issubclass(obj, models.AbstractRNN) and obj is not models.AbstractRNN}
    covered = {type(build()) for _, build in every_model()}
    assert classes <= covered, f"models without a check_model test: {sorted(c.__name__ for c in classes - covered)}"
    assert {RateRNN, Hopfield, WongWang} <= covered
    assert type(random_network(4, 1.0)) in covered
