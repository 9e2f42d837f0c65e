"""Yang et al. (2019)'s 20 tasks: input and output code, epochs, targets, loss mask and the performance
rule, against the paper's definitions."""

import math

import pytest
import torch

from rnnscope import ConfigError
from rnnscope.tasks import check_task, make
from rnnscope.tasks.multitask import RULES, population_vector, ring_bump

RING1, RING2 = slice(1, 33), slice(33, 65)
RULE0 = 65


def _quiet(name, **kw):
    return make(name, input_noise=0.0, **kw)


def _valid(b):
    return torch.arange(b.n_steps)[None, :] < b.lengths[:, None]


def _circ(a, b):
    d = torch.remainder(a - b, 2 * math.pi)
    return torch.minimum(d, 2 * math.pi - d)


@pytest.mark.parametrize("name", [*RULES, "multitask"])
def test_every_task_has_the_paper_code(name):
    task = make(name)
    b = check_task(task)
    assert task.dt == 20.0 and task.input_size == 85 and task.output_size == 33
    assert task.input_names[0] == "fixation" and task.input_names[RULE0] == "rule_fdgo"
    assert task.output_names[0] == "fixation" and len(task.output_names) == 33
    if name != "multitask":
        assert (b.conditions["rule"] == RULES.index(name)).all()


def test_ring_bump_shape():
    bump = ring_bump(torch.tensor([0.0, 2 * math.pi * 5 / 32], dtype=torch.float64))
    assert bump.shape == (2, 32)
    assert bump[0, 0] == pytest.approx(0.8) and bump[1, 5] == pytest.approx(0.8)
    # one unit away is pi/16, i.e. d = 0.5 in units of pi/8; the ring wraps around
    assert bump[0, 1] == pytest.approx(0.8 * math.exp(-0.125))
    assert bump[0, 31] == pytest.approx(bump[0, 1].item())
    assert bump[0, 4] == pytest.approx(0.8 * math.exp(-2.0))  # 4 units = pi/4 away: d = 2
    assert population_vector(bump[1]).item() == pytest.approx(2 * math.pi * 5 / 32, abs=1e-9)


def test_rule_input_is_one_hot_for_the_whole_trial():
    b = _quiet("multitask").sample(200, seed=0)
    valid = _valid(b)
    rules = b.inputs[..., RULE0:]
    expected = torch.nn.functional.one_hot(b.conditions["rule"], 20).float()[:, None, :] * valid[..., None]
    assert torch.equal(rules, expected)


def test_go_and_anti_share_the_stimulus_and_respond_opposite():
    go, anti = _quiet("fdgo").sample(64, seed=1), _quiet("fdanti").sample(64, seed=1)
    assert torch.equal(go.inputs[..., :RULE0], anti.inputs[..., :RULE0])
    c = go.conditions
    assert torch.allclose(c["response"], c["stim1_direction"])
    assert torch.allclose(_circ(anti.conditions["response"], c["stim1_direction"]),
                          torch.full((64,), math.pi, dtype=torch.float64))
    # one ring carries the stimulus, as a bump at its direction, from its onset to the end
    for b in (go, anti):
        last = b.inputs[torch.arange(64), b.lengths - 1]
        in1, in2 = last[:, RING1].sum(1) > 0, last[:, RING2].sum(1) > 0
        assert torch.equal(in1, ~in2)
        ring = torch.where(in1[:, None], last[:, RING1], last[:, RING2])
        assert _circ(population_vector(ring).double(), c["stim1_direction"]).max() < 1e-4
        # the target ring's population vector is the response direction
        target = b.targets[torch.arange(64), b.lengths - 1, 1:]
        assert _circ(population_vector(target), b.conditions["response"]).max() < 1e-5


def test_fixation_input_goes_off_at_the_response_except_in_reaction_and_matching_tasks():
    for name, stays in (("fdgo", False), ("delayanti", False), ("dm1", False), ("multidelaydm", False),
                        ("reactgo", True), ("reactanti", True), ("dmsgo", True), ("dmcnogo", True)):
        b = _quiet(name).sample(32, seed=2)
        valid = _valid(b)
        expected = valid if stays else valid & ~b.period_mask("response")
        assert torch.equal(b.inputs[..., 0] > 0, expected), name


def test_reaction_tasks_show_the_stimulus_at_the_response_onset():
    b = _quiet("reactgo").sample(32, seed=3)
    stim = b.inputs[..., 1:RULE0].abs().sum(-1) > 0
    assert torch.equal(stim, b.period_mask("response"))
    assert (b.periods["fixation"][:, 1] - b.periods["fixation"][:, 0]).min() >= 500 / 20


def test_delay_tasks_remove_the_stimulus_before_the_response():
    b = _quiet("delaygo").sample(64, seed=4)
    stim = b.inputs[..., 1:RULE0].abs().sum(-1) > 0
    assert torch.equal(stim, b.period_mask("stimulus1"))
    delays = (b.periods["delay1"][:, 1] - b.periods["delay1"][:, 0]) * 20
    assert set(delays.tolist()) <= {200, 400, 800, 1600} and len(set(delays.tolist())) > 1


@pytest.mark.parametrize("name, ring", [("dm1", 0), ("dm2", 1), ("contextdm1", 0), ("contextdm2", 1),
                                        ("delaydm1", 0), ("contextdelaydm2", 1)])
def test_decision_targets_the_stronger_stimulus_of_the_relevant_ring(name, ring):
    b = _quiet(name).sample(400, seed=5)
    c = b.conditions
    s1, s2 = c["stim1_strength"][:, ring], c["stim2_strength"][:, ring]
    expected = torch.where(s1 > s2, c["stim1_direction"], c["stim2_direction"])
    assert torch.allclose(c["response"], expected)
    assert _circ(c["stim1_direction"], c["stim2_direction"]).min() >= math.pi / 2 - 1e-9
    levels = {0.01, 0.02, 0.04, 0.08} if "delay" not in name else {0.08, 0.16, 0.32}
    assert {round(v, 6) for v in (s1 - s2).abs().div(2).tolist()} == levels
    means = (s1 + s2) / 2
    assert means.min() >= 0.8 and means.max() <= 1.2
    other = 1 - ring
    if name.startswith("context"):  # the ignored ring carries its own evidence, disagreeing half of the time
        o1, o2 = c["stim1_strength"][:, other], c["stim2_strength"][:, other]
        disagree = ((o1 > o2) != (s1 > s2)).float().mean().item()
        assert 0.35 < disagree < 0.65
    else:
        assert (c["stim1_strength"][:, other] == 0).all()


def test_multisensory_decision_sums_both_rings():
    for name in ("multidm", "multidelaydm"):
        b = _quiet(name).sample(400, seed=6)
        c = b.conditions
        s1, s2 = c["stim1_strength"].sum(1), c["stim2_strength"].sum(1)
        assert torch.allclose(c["response"], torch.where(s1 > s2, c["stim1_direction"], c["stim2_direction"]))
        assert (c["stim1_strength"] > 0).all() and (c["stim2_strength"] > 0).all()


def test_decision_stimuli_are_simultaneous_or_successive():
    b = _quiet("dm1").sample(16, seed=7)
    ring = b.inputs[..., RING1]
    # the input is the sum of two bumps while the stimuli are on, nothing afterwards
    assert torch.equal(ring.sum(-1) > 0, b.period_mask("stimulus1"))
    b = _quiet("delaydm1").sample(16, seed=7)
    on = b.inputs[..., RING1].sum(-1) > 0
    assert torch.equal(on, b.period_mask("stimulus1") | b.period_mask("stimulus2"))
    assert not (b.period_mask("stimulus1") & b.period_mask("stimulus2")).any()


@pytest.mark.parametrize("name, go_on_match", [("dmsgo", True), ("dmsnogo", False), ("dmcgo", True),
                                               ("dmcnogo", False)])
def test_matching_tasks_go_or_withhold(name, go_on_match):
    b = _quiet(name).sample(400, seed=8)
    c = b.conditions
    if name.startswith("dms"):
        same = _circ(c["stim1_direction"], c["stim2_direction"]) < 1e-9
        assert _circ(c["stim1_direction"], c["stim2_direction"])[~same].min() >= math.pi / 9 - 1e-9
    else:
        same = (c["stim1_direction"] < math.pi) == (c["stim2_direction"] < math.pi)
    assert torch.equal(c["match"].bool(), same) and 0.3 < same.float().mean() < 0.7
    response_ms = set(((b.periods["response"][:, 1] - b.periods["response"][:, 0]) * 20).tolist())
    assert response_ms == ({500} if name.startswith("dms") else {200, 400, 600})
    go = c["go"].bool()
    assert torch.equal(go, same if go_on_match else ~same)
    assert torch.allclose(c["response"][go], c["stim2_direction"][go])
    # nogo: the fixation target stays at 0.8 to the end and the response ring at its baseline
    valid = _valid(b)
    nogo = ~go
    assert torch.allclose(b.targets[nogo][..., 0][valid[nogo]], torch.tensor(0.8))
    assert torch.allclose(b.targets[nogo][..., 1:][valid[nogo]], torch.tensor(0.05))


def test_targets_and_loss_mask_follow_the_paper():
    b = _quiet("fdgo").sample(32, seed=9)
    valid, resp = _valid(b), b.period_mask("response")
    before = valid & ~resp
    assert torch.allclose(b.targets[..., 0][before], torch.tensor(0.8))
    assert torch.allclose(b.targets[..., 0][resp], torch.tensor(0.05))
    assert torch.allclose(b.targets[..., 1:][before], torch.tensor(0.05))
    assert b.targets[..., 1:][resp].max().item() == pytest.approx(0.85, abs=0.01)
    t = torch.arange(b.n_steps)[None, :]
    on = b.periods["response"][:, :1]
    ring, fix = b.mask[..., 1], b.mask[..., 0]
    # the paper weights the error (1 before, 5 after, fixation x2) before squaring it: the mask of the
    # squared error holds the squares, / 100
    assert (ring[:, :5] == 0).all()  # the first 100 ms
    assert torch.allclose(ring[before & (t >= 5)], torch.tensor(0.01))
    assert (ring[(t >= on) & (t < on + 5)] == 0).all()  # the 100 ms grace period
    after = valid & (t >= on + 5)
    assert torch.allclose(ring[after], torch.tensor(0.25))  # (5 x the weight before)^2
    assert torch.allclose(fix, 4 * ring)  # fixation's error counts twice, its square four times
    assert b.mask.max().item() == 1.0
    assert (b.mask[~valid] == 0).all()


def _perfect(b):
    return b.targets.clone()


def test_performance_on_constructed_outputs():
    task = _quiet("multitask")
    b = task.sample(300, seed=10)
    assert task.evaluate(_perfect(b), b)["performance"] == 1.0
    go = b.conditions["go"].bool()
    last = b.lengths - 1
    idx = torch.arange(b.batch_size)

    def rotated(angle):
        out = _perfect(b)
        out[idx, last, 1:] = 0.05 + ring_bump(b.conditions["response"] + angle).float()
        return out

    c = task.evaluate(rotated(0.15 * math.pi), b)["performance"]
    assert c == 1.0  # within 0.2 pi
    wrong = task.evaluate(rotated(0.25 * math.pi), b)["performance"]
    assert wrong == pytest.approx(1 - go.float().mean().item())  # every go trial fails
    # breaking fixation on the last step fails the trials that require fixation, not the others
    broke = _perfect(b)
    broke[idx, last, 0] = 0.3
    nogo_rate = (~go).float().mean().item()
    assert nogo_rate > 0
    assert task.evaluate(broke, b)["performance"] == pytest.approx(1 - nogo_rate)
    # fixating when a saccade is due fails, even with the right direction on the ring
    held = _perfect(b)
    held[idx, last, 0] = 0.8
    assert task.evaluate(held, b)["performance"] == pytest.approx(nogo_rate)
    # only the last step counts
    early = _perfect(b)
    early[idx, last - 1] = 0.0
    assert task.evaluate(early, b)["performance"] == 1.0


def test_multitask_samples_context_tasks_five_times_as_often():
    b = _quiet("multitask").sample(3000, seed=11)
    counts = torch.bincount(b.conditions["rule"], minlength=20).double() / 3000
    expected = torch.tensor([5.0 if r in ("contextdm1", "contextdm2") else 1.0 for r in RULES])
    expected /= expected.sum()
    assert torch.allclose(counts, expected.double(), atol=0.015)  # ~4 standard errors
    scores = make("multitask").evaluate(b.targets, b)
    assert {f"performance_{r}" for r in RULES} <= set(scores)


def test_input_noise_is_scaled_as_in_the_paper():
    b = make("fdgo", input_noise=0.01).sample(64, seed=12)
    clean = _quiet("fdgo").sample(64, seed=12)
    valid = _valid(b)
    noise = (b.inputs - clean.inputs)[valid]
    assert noise.std().item() == pytest.approx(0.01 * math.sqrt(2 * 100 / 20), rel=0.02)


def test_fixed_timing_gives_one_trial_length_per_rule():
    b = _quiet("multitask", timing="fixed").sample(400, seed=13)
    for k in range(20):
        sel = b.conditions["rule"] == k
        assert len(set(b.lengths[sel].tolist())) == 1


def test_batch_timing_and_one_rule_per_batch_as_the_original_training():
    task = _quiet("multitask", timing="batch", rule_per="batch")
    seen = set()
    for seed in range(60):
        b = task.sample(32, seed=seed)
        rules = b.conditions["rule"].unique()
        assert len(rules) == 1  # one rule
        seen.add(int(rules))
        for name, bounds in b.periods.items():  # one draw of the epochs: every trial the same
            assert (bounds == bounds[:1]).all(), name
        assert (b.lengths == b.n_steps).all()  # so no padding
        assert task.evaluate(b.targets, b)["performance"] == 1.0
    assert len(seen) >= 12  # the rules still vary from batch to batch
    # epochs differ between batches; directions and coherences still differ within one
    lengths = {_quiet("fdgo", timing="batch").sample(8, seed=s).n_steps for s in range(20)}
    assert len(lengths) > 5
    b = _quiet("dm1", timing="batch").sample(64, seed=3)
    assert len(b.conditions["stim1_direction"].unique()) == 64
    assert len(b.conditions["coherence"].abs().round(decimals=6).unique()) == 4
    # a rule per batch follows the paper's weights: the context DM tasks five times as often
    counts = torch.zeros(20)
    for seed in range(1500):
        counts[int(task.sample(1, seed=seed).conditions["rule"])] += 1
    expected = torch.tensor([5.0 if r in ("contextdm1", "contextdm2") else 1.0 for r in RULES])
    assert torch.allclose(counts / 1500, expected / expected.sum(), atol=0.03)


def test_bad_parameters():
    with pytest.raises(ConfigError, match="'rule_per' parameter"):
        make("multitask", rule_per="epoch")
    with pytest.raises(ConfigError, match="'timing' parameter"):
        make("fdgo", timing="sometimes")
    with pytest.raises(ConfigError, match="'dt' parameter"):
        make("dm1", dt=200.0)
    with pytest.raises(ConfigError, match="'input_noise' parameter"):
        make("multitask", input_noise=-1.0)
    with pytest.raises(ConfigError, match="Unknown rule"):
        make("fdgo").rule_input("go")
    assert make("fdgo").rule_input("dmcnogo").nonzero().item() == 84


def test_the_shared_generator_is_not_a_task_and_analysis_inputs():
    from rnnscope.tasks.multitask import YangTask

    with pytest.raises(ConfigError, match="make\\('multitask'\\)"):
        YangTask()
    (u,) = make("dm1").analysis_inputs().values()
    assert u.nonzero().flatten().tolist() == [0, 65 + RULES.index("dm1")]
    (u,) = make("multitask").analysis_inputs().values()
    assert u.nonzero().flatten().tolist() == [0]
