"""The 20 cognitive tasks of Yang, Joglekar, Song, Newsome & Wang (2019, Nature Neuroscience), and the
``multitask`` collection that trains one network on all of them.

Every task shares one input and output code and one trial generator; a task is a *rule* that picks
an epoch structure (a family), where the stimuli go and which response is correct.

Inputs (85): a fixation input; two rings of 32 direction-tuned units (two modalities), each stimulus a
bump ``0.8 exp(-d^2 / 2)`` around its direction, ``d`` the circular distance in units of pi/8, scaled
by the stimulus strength; 20 one-hot rule inputs, on for the whole trial. Outputs (33): a fixation
output (target 0.8 while the network must fixate) and a ring of 32 response units (a bump of height
0.8 around the response direction once the network must respond); every target has a baseline of
0.05, fit for sigmoid outputs and a squared loss.

Loss mask (as in the paper): the first 100 ms are not scored; the cost weight is 1 before the
response; the 100 ms after the response onset are a grace period, not scored; the weight is 5 after
it; the fixation output's weight is doubled. The original code multiplies the *error* by these
weights before squaring it, so the squared error is weighted by their squares (1, 25, and 4x for the
fixation output); the mask here holds those squares, divided by the largest (100) so that it lies in
[0, 1], for the masked mean squared error.

Performance, on the last step of each trial: correct if the network must fixate and the fixation
output is above 0.5, or if it must respond, its fixation output is at most 0.5 and the direction
read from the response ring by population vector is within 0.2 pi of the target.

Families (durations in ms; ``U(a, b)`` uniform, ``{...}`` one of, drawn per trial):

- ``fd`` (fdgo, fdanti): stimulus from ``U(300, 700)`` to the end, the fixation cue goes off
  ``U(500, 1500)`` after its onset, then 500 ms to respond, in its direction (go) or the opposite
  one (anti). Modality random.
- ``react`` (reactgo, reactanti): the fixation cue stays on; the stimulus appears after
  ``U(500, 2500)`` and the network responds at once (500 ms).
- ``delay`` (delaygo, delayanti): stimulus on at {300, 500, 700} for {200, 400, 600}, a delay of
  {200, 400, 800, 1600}, then the response (500 ms).
- ``dm`` (dm1, dm2, contextdm1, contextdm2, multidm): two stimuli in opposite half-planes, shown
  together from ``U(100, 400)`` for {400, 800, 1600}, strengths ``m +- c`` (``m ~ U(0.8, 1.2)``,
  coherence ``c`` in {0.01, 0.02, 0.04, 0.08}); respond to the stronger one: in ring 1 or 2 only
  (dm1, dm2), with both rings carrying independent evidence and one of them attended (contextdm1,
  contextdm2), or summed over both rings (multidm).
- ``delaydm`` (delaydm1, delaydm2, contextdelaydm1, contextdelaydm2, multidelaydm): the same, but
  the two stimuli come one after the other ({200, 400, 600} on, {200, 400, 600} long, a delay of
  {200, 400, 800, 1600}), the response ``U(100, 300)`` after the second; coherences
  {0.08, 0.16, 0.32}.
- ``match`` (dmsgo, dmsnogo, dmcgo, dmcnogo): a sample, a delay, then a test stimulus, each in a
  random modality; the fixation cue stays on and the network responds at the test's onset: it
  saccades to the test if the two match (go variants) or if they do not (nogo variants), and keeps
  fixating otherwise. Matching is the same direction (dms; a non-match lies ``U(pi/9, 17 pi/9)``
  away) or the same category, the half-plane below or above pi (dmc, directions on a grid of 10;
  the response period lasts 500 ms in dms, {200, 400, 600} in dmc).

Timings are drawn per trial by default; ``timing="batch"`` draws them once per batch, as the original
code does (every trial of a batch then has the same epochs: no padding); ``timing="fixed"`` gives every
trial the same epochs (the middle of each range), for analyses that compare trials time step by time
step, such as the task variance. ``make("multitask", rule_per="batch")`` draws one rule per batch, as
the original code's training does; with ``timing="batch"`` a batch then costs the length of its own
trials rather than that of the longest of twenty tasks (half the time per trial, measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .._validation import check_choice, check_float
from ..errors import ConfigError
from ._base import AbstractTask, TrialBatch

__all__ = [
    "RULES",
    "N_RING",
    "ring_bump",
    "population_vector",
    "YangTask",
    "MultiTask",
    "yang_performance",
]

#: The 20 rules, in the order of their one-hot inputs.
RULES: tuple[str, ...] = (
    "fdgo", "reactgo", "delaygo", "fdanti", "reactanti", "delayanti",
    "dm1", "dm2", "contextdm1", "contextdm2", "multidm",
    "delaydm1", "delaydm2", "contextdelaydm1", "contextdelaydm2", "multidelaydm",
    "dmsgo", "dmsnogo", "dmcgo", "dmcnogo",
)
#: Units per ring.
N_RING = 32
_N_IN = 1 + 2 * N_RING + len(RULES)
_N_OUT = 1 + N_RING

# rule -> (family, variant). Variants: go/anti; for decisions the ring whose evidence counts
# (1, 2, "context1", "context2", "both"); for matching (kind, go-on-match).
_SPEC: dict[str, tuple[str, object]] = {
    "fdgo": ("fd", "go"), "fdanti": ("fd", "anti"),
    "reactgo": ("react", "go"), "reactanti": ("react", "anti"),
    "delaygo": ("delay", "go"), "delayanti": ("delay", "anti"),
    "dm1": ("dm", 1), "dm2": ("dm", 2), "contextdm1": ("dm", "context1"), "contextdm2": ("dm", "context2"),
    "multidm": ("dm", "both"),
    "delaydm1": ("delaydm", 1), "delaydm2": ("delaydm", 2), "contextdelaydm1": ("delaydm", "context1"),
    "contextdelaydm2": ("delaydm", "context2"), "multidelaydm": ("delaydm", "both"),
    "dmsgo": ("match", ("dms", True)), "dmsnogo": ("match", ("dms", False)),
    "dmcgo": ("dmc", ("dmc", True)), "dmcnogo": ("dmc", ("dmc", False)),
}

_DM_COHERENCES = (0.01, 0.02, 0.04, 0.08)
_DELAY_DM_COHERENCES = (0.08, 0.16, 0.32)
_DMC_DIRECTIONS = tuple(k * 0.2 + 0.1 for k in range(10))  # in units of pi


def _preferred() -> torch.Tensor:
    return torch.arange(N_RING, dtype=torch.float64) * (2 * math.pi / N_RING)


def _circular_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = torch.remainder(a - b, 2 * math.pi)
    return torch.minimum(d, 2 * math.pi - d)


def ring_bump(directions: torch.Tensor) -> torch.Tensor:
    """The ring code of ``directions`` (radians): ``0.8 exp(-d^2 / 2)`` with ``d`` the circular
    distance to each unit's preferred direction ``2 pi k / 32`` in units of pi/8.

    Shape: directions (...,) -> (..., 32), float64.
    """
    d = _circular_distance(directions[..., None].double(), _preferred()) / (math.pi / 8)
    return 0.8 * torch.exp(-0.5 * d**2)


def population_vector(ring: torch.Tensor) -> torch.Tensor:
    """The direction (radians in [0, 2 pi)) read from ring activity by population vector.

    The angle of ``sum_k y_k (cos theta_k, sin theta_k)``; the paper divides both sums by ``sum_k y_k``
    first, which gives the same angle whenever that sum is positive (always, for its sigmoid outputs).

    Shape: ring (..., 32) -> (...,).
    """
    pref = _preferred().to(ring.dtype if ring.is_floating_point() else torch.float64)
    y = ring.to(pref.dtype)
    return torch.remainder(torch.atan2((y * pref.sin()).sum(-1), (y * pref.cos()).sum(-1)), 2 * math.pi)


def yang_performance(outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
    """Per-trial correctness (float 0 or 1) on the last step of each trial, by the paper's rule.

    Correct if the trial requires fixation (``conditions["go"] == 0``) and the fixation output is
    above 0.5; or if it requires a saccade, the fixation output is at most 0.5 and the population
    vector of the response ring lies within 0.2 pi of ``conditions["response"]``.

    Shape: outputs (batch, time, 33) -> (batch,).
    """
    last = outputs[torch.arange(outputs.shape[0]), batch.lengths - 1]
    fixating = last[:, 0] > 0.5
    go = batch.conditions["go"].bool()
    error = _circular_distance(population_vector(last[:, 1:]), batch.conditions["response"].double())
    return torch.where(go, ~fixating & (error < 0.2 * math.pi), fixating).float()


def _pick(g: torch.Generator, n: int, values) -> torch.Tensor:
    v = torch.as_tensor(values, dtype=torch.float64)
    return v[torch.randint(len(v), (n,), generator=g)]


def _uniform(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)


def _sign(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()


@dataclass(frozen=True)
class YangTask(AbstractTask):
    """The shared generator of Yang et al. (2019)'s tasks; a concrete task names its rules.

    Args:
        dt: time step in ms (the paper: 20).
        input_noise: standard deviation of the input noise before the paper's scaling: each step adds
            white noise of standard deviation ``input_noise * sqrt(2 tau / dt)`` to every input (0 for
            none).
        tau: the network's time constant in ms, used only to scale the input noise as the paper does.
        timing: ``"random"`` (epochs drawn per trial), ``"batch"`` (drawn once per batch, as the original
            code does) or ``"fixed"`` (the middle of each range, the same for every trial of a rule).

    Conditions: ``rule`` (long, index into :data:`RULES`), ``go`` (1 if the last step requires a
    saccade, 0 if fixation), ``response`` (the target direction in radians; -1 for fixation),
    ``stim1_direction``, ``stim2_direction`` (radians; -1 if absent), ``stim1_strength``,
    ``stim2_strength`` (per ring, shape (batch, 2)), ``coherence`` (the signed strength difference
    that decides a decision trial, 0 elsewhere), ``match`` (1 for a matching pair, 0 otherwise).
    Periods: ``fixation`` (before the first stimulus), ``stimulus1``, ``delay1``, ``stimulus2``,
    ``delay2`` (empty where a family has none) and ``response`` (from the response onset).
    """

    name: ClassVar[str] = "_yang"
    summary: ClassVar[str] = "a task of Yang et al. 2019"
    #: The rules this task draws from, and their relative weights.
    rules: ClassVar[tuple[str, ...]] = ()
    default_criterion: ClassVar[float] = 0.9

    dt: float = 20.0
    input_noise: float = 0.01
    tau: float = 100.0
    timing: str = "random"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_float(owner, "dt", self.dt, low=0.0, high=100.0, low_inclusive=False)
        check_float(owner, "input_noise", self.input_noise, low=0.0)
        check_float(owner, "tau", self.tau, low=0.0, low_inclusive=False)
        check_choice(owner, "timing", self.timing, ("random", "batch", "fixed"))
        if not self.rules:
            raise ConfigError("YangTask is the generator the tasks of Yang et al. 2019 share; build one of them "
                              f"instead: make('multitask') or make(rule) for a rule in {', '.join(RULES)}.")

    @property
    def input_names(self) -> tuple[str, ...]:
        return ("fixation", *(f"ring1_{k}" for k in range(N_RING)), *(f"ring2_{k}" for k in range(N_RING)),
                *(f"rule_{r}" for r in RULES))

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("fixation", *(f"response_{k}" for k in range(N_RING)))

    def rule_weights(self) -> tuple[float, ...]:
        """The relative probability of each of :attr:`rules` (uniform by default)."""
        return (1.0,) * len(self.rules)

    def analysis_inputs(self) -> dict[str, torch.Tensor]:
        """The input of the fixation epoch: the fixation cue, and the rule input of a single-rule task."""
        u = torch.zeros(_N_IN)
        u[0] = 1.0
        if len(self.rules) == 1:
            return {f"fixation, {self.rules[0]} rule": u + self.rule_input(self.rules[0])}
        return {"fixation, no rule": u}

    def rule_input(self, rule: str) -> torch.Tensor:
        """The one-hot input vector of ``rule`` (85 entries, rule channel only), for rule algebra."""
        if rule not in RULES:
            raise ConfigError(f"Unknown rule {rule!r}; the rules are {', '.join(RULES)}.")
        u = torch.zeros(_N_IN)
        u[1 + 2 * N_RING + RULES.index(rule)] = 1.0
        return u

    def _sample(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        w = torch.as_tensor(self.rule_weights(), dtype=torch.float64)
        which = torch.multinomial(w, 1 if self._one_rule_per_batch else batch_size, replacement=True,
                                  generator=generator).expand(batch_size)
        rule = torch.as_tensor([RULES.index(r) for r in self.rules])[which]
        return generate(rule, generator, dt=self.dt, noise=self.input_noise * math.sqrt(2 * self.tau / self.dt),
                        timing=self.timing)

    @property
    def _one_rule_per_batch(self) -> bool:
        return False

    def evaluate(self, outputs: torch.Tensor, batch: TrialBatch) -> dict[str, float]:
        """The paper's performance (last step: fixation held, or a saccade within 0.2 pi of the target).

        Returns ``performance`` over all trials and ``performance_<rule>`` for each rule in the batch.
        """
        outputs = self._check_outputs(outputs, batch)
        correct = yang_performance(outputs, batch)
        scores = {"performance": float(correct.mean())}
        for index, r in enumerate(RULES):
            sel = batch.conditions["rule"] == index
            if bool(sel.any()):
                scores[f"performance_{r}"] = float(correct[sel].mean())
        return scores


def _durations(family: str, g: torch.Generator, n: int, timing: str) -> dict[str, torch.Tensor]:
    """Epoch durations in ms of ``n`` trials of ``family``: fixation, stimulus1, delay1, stimulus2,
    delay2 before the response onset, and response (from the response onset to the end). ``timing``:
    "random" (per trial), "batch" (one draw for all ``n``) or "fixed" (the middle of each range)."""
    fixed, draws = timing == "fixed", 1 if timing == "batch" else n

    def pick(values):
        return torch.full((n,), float(sorted(values)[len(values) // 2]), dtype=torch.float64) if fixed \
            else _pick(g, draws, values).expand(n)

    def unif(lo, hi):
        return torch.full((n,), (lo + hi) / 2, dtype=torch.float64) if fixed \
            else _uniform(g, draws, lo, hi).expand(n)

    z = torch.zeros(n, dtype=torch.float64)
    if family == "fd":
        return dict(fixation=unif(300, 700), stimulus1=unif(500, 1500), delay1=z, stimulus2=z, delay2=z,
                    response=torch.full((n,), 500.0, dtype=torch.float64))
    if family == "react":
        return dict(fixation=unif(500, 2500), stimulus1=z, delay1=z, stimulus2=z, delay2=z,
                    response=torch.full((n,), 500.0, dtype=torch.float64))
    if family == "delay":
        return dict(fixation=pick([300, 500, 700]), stimulus1=pick([200, 400, 600]),
                    delay1=pick([200, 400, 800, 1600]), stimulus2=z, delay2=z,
                    response=torch.full((n,), 500.0, dtype=torch.float64))
    if family == "dm":
        return dict(fixation=unif(100, 400), stimulus1=pick([400, 800, 1600]), delay1=z, stimulus2=z, delay2=z,
                    response=torch.full((n,), 500.0, dtype=torch.float64))
    if family == "delaydm":
        return dict(fixation=pick([200, 400, 600]), stimulus1=pick([200, 400, 600]),
                    delay1=pick([200, 400, 800, 1600]), stimulus2=pick([200, 400, 600]), delay2=unif(100, 300),
                    response=torch.full((n,), 500.0, dtype=torch.float64))
    # match (dms) and dmc: the response begins with the test stimulus, which lasts to the end
    return dict(fixation=pick([200, 400, 600]), stimulus1=pick([200, 400, 600]),
                delay1=pick([200, 400, 800, 1600]), stimulus2=z, delay2=z,
                response=torch.full((n,), 500.0, dtype=torch.float64) if family == "match"
                else pick([200, 400, 600]))


def generate(rule: torch.Tensor, g: torch.Generator, *, dt: float, noise: float, timing: str = "random") -> TrialBatch:
    """Trials of the rules ``rule`` (indices into :data:`RULES`, one per trial), vectorised.

    ``noise`` is the per-step standard deviation of the input noise; ``timing`` as in
    :class:`YangTask` ("random", "batch" or "fixed"). Every family's variables are
    drawn for every trial (so a trial's draws do not depend on the other rules in the batch) and
    each trial keeps those of its own rule.

    Shape: rule (batch,).
    """
    B = rule.shape[0]
    fam_of = [_SPEC[r][0] for r in RULES]
    var_of = [_SPEC[r][1] for r in RULES]
    families = ("fd", "react", "delay", "dm", "delaydm", "match", "dmc")
    fam = torch.as_tensor([families.index(f) for f in fam_of])[rule]

    # --- epochs (steps) ---
    steps = {}
    for f_index, f in enumerate(families):
        d = _durations(f, g, B, timing)
        sel = fam == f_index
        for k, v in d.items():
            s = torch.round(v / dt).long()
            steps[k] = torch.where(sel, s, steps[k]) if k in steps else torch.where(sel, s, 0)
    names = ("fixation", "stimulus1", "delay1", "stimulus2", "delay2", "response")
    ends = torch.cumsum(torch.stack([steps[k] for k in names], 1), 1)
    starts = ends - torch.stack([steps[k] for k in names], 1)
    periods = {k: torch.stack([starts[:, i], ends[:, i]], 1) for i, k in enumerate(names)}
    lengths = ends[:, -1]
    T = int(lengths.max())
    t = torch.arange(T)[None, :]
    valid = t < lengths[:, None]
    resp_on = periods["response"][:, 0]

    def between(a, b):
        return (t >= a[:, None]) & (t < b[:, None])

    # --- stimuli: directions, strengths per ring (B, 2), on/off steps ---
    loc1 = _uniform(g, B, 0, 2 * math.pi)
    # decisions: the second stimulus in the other half-plane
    loc2_dm = torch.remainder(loc1 + _uniform(g, B, 0.5 * math.pi, 1.5 * math.pi) * _sign(g, B), 2 * math.pi)
    # match to sample: a match, or a direction at least pi/9 away
    is_match_dms = torch.rand(B, generator=g) < 0.5
    loc2_dms = torch.where(is_match_dms, loc1,
                           torch.remainder(loc1 + _uniform(g, B, math.pi / 9, 17 * math.pi / 9) * _sign(g, B),
                                           2 * math.pi))
    loc1_dmc = _pick(g, B, _DMC_DIRECTIONS) * math.pi
    loc2_dmc = _pick(g, B, _DMC_DIRECTIONS) * math.pi
    mod1 = torch.randint(2, (B,), generator=g)  # the ring of a single stimulus / of the sample
    mod2 = torch.randint(2, (B,), generator=g)  # the ring of the test stimulus

    def pair(cohs):
        mean = _uniform(g, B, 0.8, 1.2)
        c = _pick(g, B, cohs) * _sign(g, B)
        return mean + c, mean - c

    dm_coh, ddm_coh = _DM_COHERENCES, _DELAY_DM_COHERENCES
    # two independent pairs (ring 1, ring 2) for the context tasks, one split pair for the multi tasks
    s1_r1, s2_r1 = pair(dm_coh)
    s1_r2, s2_r2 = pair(dm_coh)
    d1_r1, d2_r1 = pair(ddm_coh)
    d1_r2, d2_r2 = pair(ddm_coh)
    m1, m2 = pair(dm_coh)
    dm1_, dm2_ = pair(ddm_coh)

    def split(total):  # one stimulus's strength divided unequally between the rings
        diff = total * _uniform(g, B, 0.2, 0.8) * _sign(g, B)
        return torch.stack([total + diff / 2, total - diff / 2], 1)

    multi1, multi2, dmulti1, dmulti2 = split(m1), split(m2), split(dm1_), split(dm2_)

    stim1_dir = torch.full((B,), -1.0, dtype=torch.float64)
    stim2_dir = torch.full((B,), -1.0, dtype=torch.float64)
    str1 = torch.zeros(B, 2, dtype=torch.float64)
    str2 = torch.zeros(B, 2, dtype=torch.float64)
    on1, off1 = periods["stimulus1"][:, 0].clone(), periods["stimulus1"][:, 1].clone()
    on2, off2 = periods["stimulus2"][:, 0].clone(), periods["stimulus2"][:, 1].clone()
    response = torch.full((B,), -1.0, dtype=torch.float64)
    go = torch.ones(B, dtype=torch.long)
    coherence = torch.zeros(B, dtype=torch.float64)
    match = torch.zeros(B, dtype=torch.long)
    fix_in_off = resp_on.clone()
    one_hot = torch.nn.functional.one_hot(mod1, 2).double()

    for index, r in enumerate(RULES):
        sel = rule == index
        if not bool(sel.any()):
            continue
        f, v = fam_of[index], var_of[index]
        if f in ("fd", "react", "delay"):
            stim1_dir[sel] = loc1[sel]
            str1[sel] = one_hot[sel]
            flip = math.pi if v == "anti" else 0.0
            response[sel] = torch.remainder(loc1[sel] + flip, 2 * math.pi)
            if f == "fd":
                off1[sel] = lengths[sel]  # the stimulus stays to the end
            elif f == "react":
                on1[sel], off1[sel] = resp_on[sel], lengths[sel]
                fix_in_off[sel] = lengths[sel]
        elif f in ("dm", "delaydm"):
            stim1_dir[sel], stim2_dir[sel] = loc1[sel], loc2_dm[sel]
            if f == "dm":
                ctx1, ctx2, multi = (s1_r1, s2_r1), (s1_r2, s2_r2), (multi1, multi2)
                off1[sel] = resp_on[sel]
                on2[sel], off2[sel] = on1[sel], resp_on[sel]
            else:
                ctx1, ctx2, multi = (d1_r1, d2_r1), (d1_r2, d2_r2), (dmulti1, dmulti2)
            if v in (1, 2):  # one ring only
                ring = v - 1
                str1[sel, ring], str2[sel, ring] = ctx1[0][sel], ctx1[1][sel]
                decisive = (str1[:, ring], str2[:, ring])
            elif v in ("context1", "context2"):
                str1[sel] = torch.stack([ctx1[0], ctx2[0]], 1)[sel]
                str2[sel] = torch.stack([ctx1[1], ctx2[1]], 1)[sel]
                ring = 0 if v == "context1" else 1
                decisive = (str1[:, ring], str2[:, ring])
            else:  # both rings, summed
                str1[sel], str2[sel] = multi[0][sel], multi[1][sel]
                decisive = (str1.sum(1), str2.sum(1))
            stronger_first = decisive[0] > decisive[1]
            response[sel] = torch.where(stronger_first, stim1_dir, stim2_dir)[sel]
            coherence[sel] = ((decisive[0] - decisive[1]) / 2)[sel]
        else:  # match
            kind, go_on_match = v
            if kind == "dms":
                a, b = loc1, loc2_dms
                same = is_match_dms
            else:
                a, b = loc1_dmc, loc2_dmc
                same = (a < math.pi) == (b < math.pi)
            stim1_dir[sel], stim2_dir[sel] = a[sel], b[sel]
            str1[sel] = one_hot[sel]
            str2[sel] = torch.nn.functional.one_hot(mod2, 2).double()[sel]
            on2[sel], off2[sel] = resp_on[sel], lengths[sel]
            fix_in_off[sel] = lengths[sel]
            match[sel] = same[sel].long()
            goes = same == go_on_match
            go[sel] = goes[sel].long()
            response[sel] = torch.where(goes, b, torch.full_like(b, -1.0))[sel]

    # --- inputs ---
    inputs = torch.zeros(B, T, _N_IN)
    inputs[..., 0] = (valid & (t < fix_in_off[:, None])).float()
    for direction, strength, on, off in ((stim1_dir, str1, on1, off1), (stim2_dir, str2, on2, off2)):
        bump = ring_bump(direction)  # (B, 32)
        present = between(on, off).float()[..., None]  # (B, T, 1)
        for ring in range(2):
            sl = slice(1 + ring * N_RING, 1 + (ring + 1) * N_RING)
            inputs[..., sl] += present * (strength[:, ring, None] * bump).float()[:, None, :]
    inputs[torch.arange(B), :, 1 + 2 * N_RING + rule] = 1.0
    inputs *= valid[..., None]
    if noise > 0:
        inputs += noise * torch.randn(B, T, _N_IN, generator=g) * valid[..., None]

    # --- targets: baseline 0.05, fixation 0.8 until the response (or throughout), a bump after ---
    targets = torch.full((B, T, _N_OUT), 0.05)
    goes = go.bool()[:, None]
    responding = between(resp_on, lengths) & goes
    targets[..., 0] += 0.75 * (valid & ~responding).float()
    targets[..., 1:] += responding.float()[..., None] * ring_bump(response).float()[:, None, :]
    targets *= valid[..., None]

    # --- loss mask: the squares of the paper's error weights (0 for 100 ms, 1 before the response,
    # 0 for 100 ms, 5 after; fixation x2), / 100 ---
    first, grace = round(100 / dt), round(100 / dt)
    weight = torch.zeros(B, T)
    weight += between(torch.full_like(resp_on, first), resp_on).float()
    weight += 5.0 * between(resp_on + grace, lengths).float()
    mask = weight[..., None].repeat(1, 1, _N_OUT)
    mask[..., 0] *= 2.0
    mask = mask.square() / 100.0

    conditions = {
        "rule": rule.clone(), "go": go, "response": response, "stim1_direction": stim1_dir,
        "stim2_direction": stim2_dir, "stim1_strength": str1, "stim2_strength": str2, "coherence": coherence,
        "match": match,
    }
    return TrialBatch(inputs=inputs, targets=targets, mask=mask, conditions=conditions,
                      periods=periods, lengths=lengths, dt=float(dt))


@dataclass(frozen=True)
class MultiTask(YangTask):
    """All 20 tasks of Yang et al. (2019), a rule drawn per trial (or per batch, ``rule_per="batch"``);
    the context decision tasks (contextdm1, contextdm2) five times as often as the others, as in the
    paper's training. The other arguments are :class:`YangTask`'s."""

    name: ClassVar[str] = "multitask"
    summary: ClassVar[str] = "Yang et al. 2019: the 20 tasks in one network, a rule per trial"
    rules: ClassVar[tuple[str, ...]] = RULES

    #: ``"trial"`` (a rule drawn for each trial) or ``"batch"`` (one rule for the whole batch, as the
    #: original code's training does).
    rule_per: str = "trial"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(type(self).__name__, "rule_per", self.rule_per, ("trial", "batch"))

    @property
    def _one_rule_per_batch(self) -> bool:
        return self.rule_per == "batch"

    def rule_weights(self) -> tuple[float, ...]:
        return tuple(5.0 if r in ("contextdm1", "contextdm2") else 1.0 for r in self.rules)


def _single(rule: str, cls_name: str, text: str) -> type[YangTask]:
    cls = dataclass(frozen=True)(type(cls_name, (YangTask,), {
        "__module__": __name__, "__qualname__": cls_name,
        "__doc__": f"Yang et al. (2019)'s {rule!r}: {text}.",
        "__annotations__": {},
        "name": rule, "summary": f"Yang et al. 2019 {rule}: {text}", "rules": (rule,),
    }))
    return cls


_TEXT = {
    "fdgo": "saccade to the stimulus when the fixation cue goes off",
    "reactgo": "saccade to the stimulus as soon as it appears",
    "delaygo": "remember a brief stimulus, saccade to it after a delay",
    "fdanti": "saccade opposite the stimulus when the fixation cue goes off",
    "reactanti": "saccade opposite the stimulus as soon as it appears",
    "delayanti": "remember a brief stimulus, saccade opposite it after a delay",
    "dm1": "saccade to the stronger of two stimuli in ring 1",
    "dm2": "saccade to the stronger of two stimuli in ring 2",
    "contextdm1": "saccade to the stronger stimulus in ring 1, ignoring ring 2",
    "contextdm2": "saccade to the stronger stimulus in ring 2, ignoring ring 1",
    "multidm": "saccade to the stimulus stronger summed over both rings",
    "delaydm1": "compare two stimuli in ring 1 shown one after the other",
    "delaydm2": "compare two stimuli in ring 2 shown one after the other",
    "contextdelaydm1": "compare two successive stimuli in ring 1, ignoring ring 2",
    "contextdelaydm2": "compare two successive stimuli in ring 2, ignoring ring 1",
    "multidelaydm": "compare two successive stimuli summed over both rings",
    "dmsgo": "saccade to the test if it matches the sample's direction",
    "dmsnogo": "saccade to the test if it does not match the sample's direction",
    "dmcgo": "saccade to the test if it matches the sample's category",
    "dmcnogo": "saccade to the test if it does not match the sample's category",
}

#: The class of each single-rule task, by rule name.
TASK_CLASSES: dict[str, type[YangTask]] = {r: _single(r, f"Yang_{r}", _TEXT[r]) for r in RULES}
for _r, _cls in TASK_CLASSES.items():
    globals()[f"Yang_{_r}"] = _cls
