"""from_neurogym: the adapter on a fake environment (always) and on real neurogym ones (if installed)."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnscope import ConfigError
from rnnscope.tasks import check_task, from_neurogym


class FakeTrialEnv:
    """The neurogym trial protocol in a few lines: fixate, see a signed stimulus, choose its side.

    Trials last 4 to 9 steps; the last 2 are the decision period, whose ground-truth action is 1
    for a positive stimulus and 2 for a negative one (0, fixate, elsewhere).
    """

    def __init__(self, dt=20, named=True):
        self.dt = dt
        self.observation_space = SimpleNamespace(shape=(2,))
        self.action_space = SimpleNamespace(n=3)
        if named:
            self.observation_space.name = {"fixation": 0, "stimulus": 1}
            self.action_space.name = {"fixation": 0, "choice": [1, 2]}
        self.rng = np.random.RandomState()
        self.trial = None

    def seed(self, seed=None):
        self.rng = np.random.RandomState(seed)
        return [seed]

    def new_trial(self):
        n = self.rng.randint(4, 10)
        sign = self.rng.choice([-1, 1])
        coh = self.rng.choice([0.1, 0.5])
        self.ob = np.zeros((n, 2), dtype=np.float32)
        self.ob[: n - 2, 0] = 1.0
        self.ob[1 : n - 2, 1] = sign * coh + 0.01 * self.rng.randn(n - 3)
        self.gt = np.zeros(n, dtype=np.int64)
        self.gt[n - 2 :] = 1 if sign > 0 else 2
        self.start_ind = {"fixation": 0, "stimulus": 1, "decision": n - 2}
        self.end_ind = {"fixation": 1, "stimulus": n - 2, "decision": n}
        self.trial = {"ground_truth": int(sign > 0), "coh": float(coh), "label": "text", "vec": np.array([1, 2])}
        return self.trial


def test_fake_env_contract_and_names():
    task = from_neurogym(FakeTrialEnv())
    b = check_task(task)
    assert task.input_names == ("fixation", "stimulus")
    assert task.output_names == ("fixation", "choice_0", "choice_1")
    assert task.dt == 20.0 and b.dt == 20.0
    assert task.default_loss == "cross_entropy"
    unnamed = from_neurogym(FakeTrialEnv(named=False))
    assert unnamed.input_names == ("input0", "input1")
    assert unnamed.output_names == ("action0", "action1", "action2")


def test_batch_holds_the_env_trials_padded():
    task = from_neurogym(FakeTrialEnv())
    b = task.sample(64, seed=1)
    assert len(set(b.lengths.tolist())) > 1
    valid = torch.arange(b.n_steps)[None, :] < b.lengths[:, None]
    assert (b.inputs[~valid] == 0).all() and (b.targets[~valid] == 0).all() and (b.mask[~valid] == 0).all()
    assert (b.mask[valid] == 1).all()
    assert torch.equal(b.targets.sum(-1), valid.float())  # one-hot on every valid step
    # the decision target is the side of the stimulus, as the conditions say
    stim = b.inputs[..., 1].sum(1)
    last = b.lengths - 1
    choice = b.targets[torch.arange(64), last].argmax(-1)
    assert torch.equal(choice, torch.where(stim > 0, 1, 2))
    assert torch.equal(b.conditions["ground_truth"], (choice == 1).long())
    assert b.conditions["ground_truth"].dtype == torch.long
    assert b.conditions["coh"].dtype == torch.float64 and set(b.conditions["coh"].tolist()) == {0.1, 0.5}
    assert set(b.conditions) == {"ground_truth", "coh"}  # non-scalar entries are left out
    assert torch.equal(b.periods["decision"][:, 1], b.lengths)
    assert torch.equal(b.period_mask("decision"), valid & (b.targets[..., 0] == 0))


def test_same_seed_reseeds_the_env():
    env = FakeTrialEnv()
    task = from_neurogym(env)
    a = task.sample(8, seed=3)
    env.new_trial()  # advancing the env between calls changes nothing
    b = task.sample(8, seed=3)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert torch.equal(a.conditions["coh"], b.conditions["coh"])


def test_decision_only_mask():
    task = from_neurogym(FakeTrialEnv(), decision_only=True)
    b = check_task(task)
    valid = torch.arange(b.n_steps)[None, :] < b.lengths[:, None]
    assert torch.equal(b.mask[..., 0] > 0, valid & (b.targets[..., 0] == 0))
    assert (b.mask.sum(1)[:, 0] == 2).all()


class CatchTrialEnv(FakeTrialEnv):
    """Weak-stimulus trials are catch trials: keep fixating throughout (ground truth 0 everywhere)."""

    def new_trial(self):
        trial = super().new_trial()
        if trial["coh"] < 0.3:
            self.gt[:] = 0
        return trial


def test_trials_without_decision_steps_are_scored_on_all_steps():
    task = from_neurogym(CatchTrialEnv(), decision_only=True)
    b = check_task(task, batch_size=32)
    catch = b.conditions["coh"] < 0.3
    assert 0 < int(catch.sum()) < 32
    valid = torch.arange(b.n_steps)[None, :] < b.lengths[:, None]
    assert torch.equal(b.mask[catch, :, 0] > 0, valid[catch])
    assert (b.mask[~catch].sum(1)[:, 0] == 2).all()
    # fixating everywhere: right on every catch trial, wrong on every other one
    fixate = torch.zeros_like(b.targets)
    fixate[..., 0] = 1.0
    assert task.evaluate(fixate, b)["performance"] == pytest.approx(catch.float().mean().item())


def test_evaluate_scores_decision_steps_per_trial():
    task = from_neurogym(FakeTrialEnv())
    b = task.sample(40, seed=5)
    s = task.evaluate(b.targets, b)
    assert s == {"performance": 1.0, "accuracy_all_steps": 1.0}
    # always fixating: right outside the decision period, wrong in it
    fixate = torch.zeros_like(b.targets)
    fixate[..., 0] = 1.0
    s = task.evaluate(fixate, b)
    assert s["performance"] == 0.0 and 0.0 < s["accuracy_all_steps"] < 1.0
    # wrong choice on the first 10 trials only
    wrong = b.targets.clone()
    wrong[:10, :, 1:] = wrong[:10, :, 1:].flip(-1)
    assert task.evaluate(wrong, b)["performance"] == pytest.approx(0.75)
    # a wrong first decision step costs half of that trial
    half = b.targets.clone()
    first = b.lengths[0] - 2
    half[0, first, 1:] = half[0, first, 1:].flip(-1)
    assert task.evaluate(half, b)["performance"] == pytest.approx(1 - 0.5 / 40)


@pytest.mark.parametrize("not_an_env", [object(), "PerceptualDecisionMaking-v0", 3])
def test_rejects_objects_that_are_not_envs(not_an_env):
    with pytest.raises(ConfigError, match=r"needs a neurogym environment.*pip install rnnscope\[neurogym\]"):
        from_neurogym(not_an_env)


def test_rejects_unsupported_spaces_and_options():
    env = FakeTrialEnv()
    env.action_space = SimpleNamespace(shape=(2,))  # continuous actions
    with pytest.raises(ConfigError, match="discrete action space"):
        from_neurogym(env)
    env = FakeTrialEnv()
    env.observation_space = SimpleNamespace(shape=(2, 3))
    with pytest.raises(ConfigError, match="1-D observation"):
        from_neurogym(env)
    with pytest.raises(ConfigError, match="'decision_only' parameter"):
        from_neurogym(FakeTrialEnv(), decision_only="yes")
    with pytest.raises(ConfigError, match="'dt' parameter"):
        from_neurogym(FakeTrialEnv(dt=0))


def test_rejects_trials_that_break_the_protocol():
    env = FakeTrialEnv()
    env.action_space.n = 2  # the env's ground truth 2 is out of range (and the name dict is ignored)
    task = from_neurogym(env)
    assert task.output_names == ("action0", "action1")
    with pytest.raises(ConfigError, match=r"actions must lie in \[0, 1\]"):
        task.sample(16, seed=0)


def _make(ngym, *args, **kwargs):
    with warnings.catch_warnings():
        # gymnasium 0.29 warns that neurogym's metadata has no render_modes
        warnings.filterwarnings("ignore", message=r".*render_modes", category=UserWarning)
        return ngym.make(*args, **kwargs)


@pytest.mark.parametrize("decision_only", [False, True])
def test_real_perceptual_decision_env(decision_only):
    ngym = pytest.importorskip("neurogym")
    env = _make(ngym, "PerceptualDecisionMaking-v0", dt=20, timing={"stimulus": ("uniform", (200, 600))})
    task = from_neurogym(env, decision_only=decision_only)
    b = check_task(task)
    assert task.dt == 20.0
    assert task.input_names == ("fixation", "stimulus_0", "stimulus_1")
    assert task.output_names == ("fixation", "choice_0", "choice_1")
    assert set(b.periods) == {"fixation", "stimulus", "delay", "decision"}
    assert len(set(b.lengths.tolist())) > 1
    # the target in the decision period is the action of the ground-truth choice
    dec = b.period_mask("decision")
    expected = (b.conditions["ground_truth"] + 1)[:, None].expand_as(dec)
    assert torch.equal(b.targets.argmax(-1)[dec], expected[dec])
    assert set(b.conditions) >= {"ground_truth", "coh"}
    assert task.evaluate(b.targets, b)["performance"] == 1.0


def test_real_env_observations_are_the_envs():
    ngym = pytest.importorskip("neurogym")
    task = from_neurogym(_make(ngym, "PerceptualDecisionMaking-v0", dt=20, sigma=0.0))
    b = task.sample(64, seed=2)
    stim = b.period_mask("stimulus")
    # noiseless: the chosen channel exceeds the other by coherence / 100 throughout the stimulus
    chosen = b.conditions["ground_truth"]
    diff = (b.inputs[..., 1] - b.inputs[..., 2]) * torch.where(chosen == 0, 1.0, -1.0)[:, None]
    expected = (b.conditions["coh"] / 100).float()[:, None].expand_as(diff)
    assert torch.allclose(diff[stim], expected[stim], atol=1e-6)
    assert torch.equal(b.inputs[..., 0] > 0, b.period_mask("fixation"))


def test_real_context_env_conditions():
    ngym = pytest.importorskip("neurogym")
    task = from_neurogym(_make(ngym, "ContextDecisionMaking-v0", dt=20))
    b = check_task(task, batch_size=32)
    assert task.input_size == 5 and task.output_size == 3
    assert {"ground_truth", "context", "coh_1", "coh_2"} <= set(b.conditions)
    last = b.lengths - 1
    assert torch.equal(b.targets[torch.arange(32), last].argmax(-1), b.conditions["ground_truth"])
