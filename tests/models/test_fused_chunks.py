"""The fused rate-network path over several chunks of steps equals the plain loop.

Regression: with the rates of all steps kept for backward (T x batch x N up to 2^23) and more steps
than one chunk holds (2^21 / (batch x N)), the first step of every chunk after the first read the
previous step's rate after it had been turned from the loop's sigmoid form into tanh, so a tanh
network drifted from step 1024 on here (0.83 at the end of 1100 steps)."""

import pytest
import torch

from rnnscope import RateRNN, simulate


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_several_chunks_with_stored_rates_equal_the_plain_loop(nonlinearity):
    model = RateRNN(3, 32, 2, g=1.5, nonlinearity=nonlinearity, seed=0)
    inputs = 0.1 * torch.randn(64, 1100, 3, generator=torch.Generator().manual_seed(0))  # chunks of 1024 steps
    fused = simulate(model, inputs, noise=False, fused=True)
    plain = simulate(model, inputs, noise=False, fused=False)
    torch.testing.assert_close(fused.states, plain.states, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fused.outputs, plain.outputs, rtol=1e-4, atol=1e-5)
