"""Networks as finite automata: extract the automaton a trained network implements.

A network that accepts or rejects strings read one symbol at a time (the formal-language tasks,
:class:`~rnnscope.tasks.FormalLanguage`) carries its memory of the string in its state. Following
Giles et al. (1992) and Omlin & Giles (1996), :func:`extract_automaton` **quantises the states**:

1. every string up to ``max_length`` symbols is presented to the network (noise off); the state
   after each prefix and the network's own accept / reject answer for each string are recorded;
2. the states of the prefixes up to ``max_length - 1`` symbols are clustered (Ward's hierarchical
   clustering, one linkage for every number of clusters k); the states after ``max_length`` symbols
   join the nearest cluster centre;
3. for each k the clusters define an automaton: the transition of cluster c on symbol a is where the
   states of c's prefixes go on reading a (the majority), a cluster accepts when most of its
   prefixes are accepted. **Transition consistency** is the fraction of observed transitions (and,
   balanced over the two answers, of the answers) that agree with these majorities; the smallest k where both reach ``consistency`` is
   kept -- a clustering of states is an automaton only when its transitions are consistent;
4. the automaton is minimised (Moore's partition refinement, unreachable states removed) and its
   **agreement** with the network measured on every string up to ``max_length``.

That is ``method="quantise"``. The default, ``method="table"``, asks the network as a membership
oracle instead (the observation table of Angluin's L*, filled exhaustively): it does not depend on
how the network lays its states out, only on its answers.

:func:`minimal_automaton` builds the minimal automaton of a language from an exact membership oracle
(the Myhill-Nerode table of prefixes against suffixes), the reference an extracted automaton is
compared with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._validation import check_choice, check_float, check_int
from ..dynamics import simulate
from ..errors import ConfigError, ConvergenceError, ShapeError
from ..models import AbstractRNN
from ..tasks import FormalLanguage, all_strings
from ._results_io import load_result, save_result

__all__ = ["Automaton", "minimal_automaton", "extract_automaton"]


# ---------------------------------------------------------------------------------------------- automaton
@dataclass(frozen=True, eq=False)
class Automaton:
    """A deterministic finite automaton, optionally with what its extraction from a network measured.

    Attributes:
        transitions: ``transitions[q, a]`` is the state reached from q on symbol ``alphabet[a]``.
        accepting: whether each state accepts.
        initial: the start state.
        alphabet: the symbols.
        agreement: the fraction of strings (up to ``agreement_length`` symbols) on which the automaton
            and the network give the same answer; NaN for an automaton not extracted from a network.
        agreement_length: the longest string in that comparison (0 when not measured).
        details: numbers of the extraction (clusters, consistencies).
        state_points: network states that the automaton's states stand for (one per prefix string,
            shortest first), or None.
        state_labels: the automaton state each of those prefixes reaches, or None.

    Shape:
        - transitions: (n_states, len(alphabet)); accepting: (n_states,)
        - state_points: (n_prefixes, hidden_size); state_labels: (n_prefixes,)
    """

    transitions: torch.Tensor
    accepting: torch.Tensor
    initial: int = 0
    alphabet: tuple[str, ...] = ("0", "1")
    agreement: float = math.nan
    agreement_length: int = 0
    details: dict = field(default_factory=dict)
    state_points: torch.Tensor | None = None
    state_labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        n, A = self.transitions.shape if self.transitions.ndim == 2 else (-1, -1)
        if n < 1 or A != len(self.alphabet) or self.accepting.shape != (n,):
            raise ShapeError(f"The 'transitions' and 'accepting' parameters of Automaton must have shapes "
                             f"(n_states, {len(self.alphabet)}) and (n_states,). Got {tuple(self.transitions.shape)} "
                             f"and {tuple(self.accepting.shape)} instead.")
        if int(self.transitions.min()) < 0 or int(self.transitions.max()) >= n or not 0 <= self.initial < n:
            raise ConfigError(f"The 'transitions' and 'initial' parameters of Automaton must name states 0..{n - 1}. "
                              f"Got transitions in [{int(self.transitions.min())}, {int(self.transitions.max())}] and "
                              f"initial={self.initial!r} instead.")

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    def _codes(self, strings: Sequence[str]) -> list[list[int]]:
        index = {c: i for i, c in enumerate(self.alphabet)}
        try:
            return [[index[c] for c in s] for s in strings]
        except KeyError as exc:
            raise ConfigError(f"Automaton reads strings of {', '.join(self.alphabet)}. Got a symbol {exc}.") from None

    def run(self, strings: Sequence[str]) -> torch.Tensor:
        """The state each string ends in. Shape: (len(strings),) long."""
        T = self.transitions.tolist()
        out = []
        for codes in self._codes(strings):
            q = self.initial
            for a in codes:
                q = T[q][a]
            out.append(q)
        return torch.tensor(out, dtype=torch.long)

    def accepts(self, strings: Sequence[str] | str) -> torch.Tensor | bool:
        """Whether each string is accepted (a bool for one string, else a (len(strings),) bool tensor)."""
        if isinstance(strings, str):
            return bool(self.accepting[self.run([strings])[0]])
        return self.accepting[self.run(strings)]

    def minimise(self) -> Automaton:
        """The minimal equivalent automaton: unreachable states removed, equivalent states merged
        (Moore's partition refinement); state 0 is the start, the others in order of first visit."""
        T = self.transitions.tolist()
        reach, queue = [self.initial], [self.initial]
        seen = {self.initial}
        while queue:
            q = queue.pop(0)
            for r in T[q]:
                if r not in seen:
                    seen.add(r)
                    reach.append(r)
                    queue.append(r)
        acc = self.accepting.tolist()
        block = {q: int(acc[q]) for q in reach}
        while True:
            signature = {q: (block[q], *(block[r] for r in T[q])) for q in reach}
            ids: dict[tuple, int] = {}
            new = {q: ids.setdefault(signature[q], len(ids)) for q in reach}
            if len(ids) == len(set(block.values())):
                block = new
                break
            block = new
        order: dict[int, int] = {}
        for q in reach:  # renumber blocks by first visit (BFS order from the start)
            order.setdefault(block[q], len(order))
        n = len(order)
        trans = torch.zeros(n, len(self.alphabet), dtype=torch.long)
        accepting = torch.zeros(n, dtype=torch.bool)
        for q in reach:
            b = order[block[q]]
            trans[b] = torch.tensor([order[block[r]] for r in T[q]])
            accepting[b] = bool(acc[q])
        labels = None
        if self.state_labels is not None:
            mapping = torch.tensor([order[block[q]] if q in block else -1 for q in range(self.n_states)])
            labels = mapping[self.state_labels]
        return Automaton(trans, accepting, order[block[self.initial]], self.alphabet, self.agreement,
                         self.agreement_length, dict(self.details), self.state_points, labels)

    def equivalent(self, other: Automaton) -> bool:
        """Whether the two automata accept the same language (a search of the product automaton)."""
        if tuple(other.alphabet) != tuple(self.alphabet):
            return False
        A, B = self.transitions.tolist(), other.transitions.tolist()
        a_acc, b_acc = self.accepting.tolist(), other.accepting.tolist()
        start = (self.initial, other.initial)
        seen, queue = {start}, [start]
        while queue:
            p, q = queue.pop()
            if a_acc[p] != b_acc[q]:
                return False
            for x in range(len(self.alphabet)):
                nxt = (A[p][x], B[q][x])
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return True

    def __repr__(self) -> str:
        agree = "" if math.isnan(self.agreement) else f", agreement={self.agreement:.4f}"
        return f"Automaton(n_states={self.n_states}, accepting={int(self.accepting.sum())}{agree})"

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file; :meth:`load` reads it back."""
        arrays = {"transitions": self.transitions, "accepting": self.accepting}
        if self.state_points is not None:
            arrays.update(state_points=self.state_points, state_labels=self.state_labels)
        meta = {"initial": self.initial, "alphabet": list(self.alphabet),
                "agreement": None if math.isnan(self.agreement) else self.agreement,
                "agreement_length": self.agreement_length, "details": self.details,
                "has_points": self.state_points is not None}
        return save_result(path, "Automaton", arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> Automaton:
        arrays, meta = load_result(path, "Automaton", ("transitions", "accepting"))
        points = {}
        if meta["has_points"]:
            points, _ = load_result(path, "Automaton", ("state_points", "state_labels"))
        agreement = math.nan if meta["agreement"] is None else float(meta["agreement"])
        return cls(arrays["transitions"], arrays["accepting"], int(meta["initial"]), tuple(meta["alphabet"]),
                   agreement, int(meta["agreement_length"]), dict(meta["details"]), points.get("state_points"),
                   points.get("state_labels"))


# ---------------------------------------------------------------------------------------------- from an oracle
def minimal_automaton(accepts: Callable[[str], bool], alphabet: Sequence[str] = ("0", "1"), *,
                      max_prefix: int = 6, max_suffix: int = 6) -> Automaton:
    """The minimal automaton of a language given by an exact membership oracle.

    Two prefixes are the same state when no suffix tells them apart (Myhill-Nerode); the table of
    every prefix up to ``max_prefix`` symbols against every suffix up to ``max_suffix`` symbols gives
    the states (the distinct rows), the transitions (the row of ``p + a``) and the accepting states
    (the empty suffix). It is exact for a regular language whose minimal automaton has at most
    ``max_prefix`` states (every state is reached by a string shorter than that, and two states are
    told apart by a suffix shorter than the number of states).

    Raises:
        ConvergenceError: when a prefix of ``max_prefix`` symbols reaches a state no shorter prefix
            reaches (the table is not closed: increase ``max_prefix``).
    """
    own = "minimal_automaton"
    if not callable(accepts):
        raise ConfigError(f"The 'accepts' parameter of {own} must be a function str -> bool. Got {accepts!r} instead.")
    alphabet = tuple(alphabet)
    max_prefix = check_int(own, "max_prefix", max_prefix, low=1, high=12)
    max_suffix = check_int(own, "max_suffix", max_suffix, low=0, high=12)
    suffixes = all_strings(alphabet, max_suffix)
    memo: dict[str, bool] = {}

    def row(p: str) -> tuple[bool, ...]:
        return tuple(memo.setdefault(p + s, bool(accepts(p + s))) for s in suffixes)

    states: dict[tuple, int] = {}
    access: list[str] = []
    for p in all_strings(alphabet, max_prefix - 1):
        r = row(p)
        if r not in states:
            states[r] = len(states)
            access.append(p)
    trans = torch.zeros(len(access), len(alphabet), dtype=torch.long)
    for q, p in enumerate(access):
        for a, c in enumerate(alphabet):
            r = row(p + c)
            if r not in states:
                raise ConvergenceError(f"{own}: the prefix {p + c!r} reaches a state that no prefix shorter than "
                                       f"{max_prefix} symbols reaches; increase 'max_prefix' (got {max_prefix}).")
            trans[q, a] = states[r]
    accepting = torch.tensor([memo[p] for p in access], dtype=torch.bool)  # suffixes[0] is ""
    return Automaton(trans, accepting, 0, alphabet).minimise()


# ---------------------------------------------------------------------------------------------- from a network
def _network_answers(model: AbstractRNN, task: FormalLanguage, strings: list[str], batch_size: int = 1024):
    """The state after each string (before the cue) and the network's answer for each string."""
    points, answers = [], []
    x0 = model.initial_state(1)[0]
    with torch.no_grad():
        for i in range(0, len(strings), batch_size):
            part = strings[i:i + batch_size]
            batch = task.trials(part)
            traj = simulate(model, batch.inputs.to(x0.dtype), noise=False)
            n = batch.conditions["length"]
            steps = torch.tensor([task.symbol_end_step(int(k)) for k in n])
            states = traj.states[torch.arange(len(part)), steps.clamp_min(0)]
            states = torch.where((n == 0)[:, None], x0.to(states.dtype), states)
            points.append(states.to(torch.float64))
            answers.append(task.decisions(traj.outputs.float(), batch))
    return torch.cat(points), torch.cat(answers)


def _quotient(labels: np.ndarray, children: np.ndarray, answers: np.ndarray, k: int):
    """The majority automaton of a clustering: transitions (k, A), accepting (k,), the fraction of
    transitions that agree with the majorities and the class-balanced fraction of answers that do."""
    A = children.shape[1]
    trans = np.zeros((k, A), dtype=np.int64)
    agree_t = 0
    for a in range(A):
        counts = np.zeros((k, k), dtype=np.int64)
        np.add.at(counts, (labels[: children.shape[0]], labels[children[:, a]]), 1)
        trans[:, a] = counts.argmax(1)
        agree_t += int(counts.max(1).sum())
    votes = np.zeros((k, 2), dtype=np.int64)
    np.add.at(votes, (labels, answers.astype(np.int64)), 1)
    accepting = votes[:, 1] > votes[:, 0]
    # answers agreeing with their cluster's majority, averaged over the two answers (balanced: most
    # strings of T1 or T2 are rejected, so a single rejecting cluster would otherwise pass)
    right = accepting[labels] == answers.astype(bool)
    per_class = [right[answers == c].mean() for c in (0, 1) if (answers == c).any()]
    return trans, accepting, agree_t / children.size, float(np.mean(per_class))


def extract_automaton(
    model: AbstractRNN,
    task: FormalLanguage,
    *,
    method: str = "table",
    max_length: int | None = None,
    n_clusters: int | None = None,
    max_clusters: int = 24,
    consistency: float = 0.99,
) -> Automaton:
    """The minimised automaton that ``model`` implements on ``task``'s strings.

    Every string of up to ``max_length`` symbols is presented to the network (noise off), recording
    its state after each prefix and its answer to each string. Two methods turn these into an
    automaton:

    - ``"table"`` (the network as membership oracle, the observation table of Angluin's L*): the
      Myhill-Nerode table of the network's answers, prefixes up to ``max_length // 2`` symbols
      against suffixes up to the rest (:func:`minimal_automaton` with the network as the oracle);
      its states are the prefixes the network's future answers tell apart.
    - ``"quantise"`` (Giles et al. 1992): the states themselves clustered, with transition
      consistency (see the module docstring); its states are regions of the network's state space.

    Args:
        model: any :class:`~rnnscope.models.AbstractRNN` trained on a formal-language task.
        task: the :class:`~rnnscope.tasks.FormalLanguage` (its trial layout and read-out).
        method: ``"table"`` or ``"quantise"``.
        max_length: the longest string presented; None: ``min(task.max_length, 10)``.
        n_clusters: (``"quantise"``) exactly this many clusters; None: the smallest consistent number.
        max_clusters: (``"quantise"``) the most clusters tried.
        consistency: (``"quantise"``) the fraction of transitions and (class-balanced) of answers that
            must agree with the clustering.

    Returns:
        A minimised :class:`Automaton` with its ``agreement`` with the network on every string up to
        ``max_length`` symbols, numbers of the extraction in ``details`` (``network_accuracy``: the
        network against the language itself), and the network's states after every prefix of up to
        ``max_length - 1`` symbols with the automaton state each prefix reaches (``state_points``,
        ``state_labels``).

    Raises:
        ConvergenceError: (``"table"``) when the network's answers need more states than the table
            can hold (they do not form a small automaton on these strings).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    own = "extract_automaton"
    if not isinstance(model, AbstractRNN):
        raise ConfigError(f"The 'model' parameter of {own} must be an AbstractRNN. Got {type(model).__name__} instead.")
    if not isinstance(task, FormalLanguage):
        raise ConfigError(f"The 'task' parameter of {own} must be a formal-language task (tasks.FormalLanguage, e.g. "
                          f"tasks.make('tomita3')). Got {type(task).__name__} instead.")
    if model.input_size != task.input_size or model.output_size != task.output_size:
        raise ShapeError(f"The 'model' parameter of {own} must read {task.input_size} inputs and give "
                         f"{task.output_size} output for {task.name}. Got input_size={model.input_size}, "
                         f"output_size={model.output_size}.")
    check_choice(own, "method", method, ("table", "quantise"))
    M = min(task.max_length, 10) if max_length is None else check_int(own, "max_length", max_length, low=2, high=14)
    max_clusters = check_int(own, "max_clusters", max_clusters, low=1)
    if n_clusters is not None:
        n_clusters = check_int(own, "n_clusters", n_clusters, low=1)
    consistency = check_float(own, "consistency", consistency, low=0, high=1)
    strings = all_strings(task.alphabet, M)
    points, answers = _network_answers(model.for_analysis(), task, strings)
    truth = torch.tensor([task.accepts(s) for s in strings])
    inner = sum(len(task.alphabet) ** n for n in range(M))  # prefixes of up to M - 1 symbols
    details: dict = {"method": method, "network_accuracy": float((answers == truth).float().mean()),
                     "strings": len(strings)}
    if method == "table":
        said = dict(zip(strings, answers.tolist()))
        dfa = minimal_automaton(said.__getitem__, task.alphabet, max_prefix=M // 2, max_suffix=M - M // 2)
    else:
        X = points[:inner].cpu().numpy()
        index = {s: i for i, s in enumerate(strings)}
        children = np.array([[index[s + c] for c in task.alphabet] for s in strings[:inner]])
        Z = linkage(X, method="ward")
        tried = []
        ks = [n_clusters] if n_clusters is not None else range(1, min(max_clusters, inner) + 1)
        for k in ks:
            inner_labels = fcluster(Z, k, criterion="maxclust") - 1
            k_eff = int(inner_labels.max()) + 1
            centres = np.stack([X[inner_labels == c].mean(0) for c in range(k_eff)])
            outer = points[inner:].cpu().numpy()
            outer_labels = np.argmin(((outer[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
            labels = np.concatenate([inner_labels, outer_labels])
            trans, accepting, t_cons, a_cons = _quotient(labels, children, answers.numpy(), k_eff)
            tried.append((k_eff, t_cons, a_cons, trans, accepting, labels))
            if t_cons >= consistency and a_cons >= consistency:
                break
        k, t_cons, a_cons, trans, accepting, labels = (tried[-1] if min(tried[-1][1:3]) >= consistency
                                                       else max(tried, key=lambda r: (min(r[1], r[2]), -r[0])))
        dfa = Automaton(torch.from_numpy(trans), torch.from_numpy(accepting), int(labels[0]),
                        task.alphabet).minimise()
        details.update(clusters=k, transition_consistency=t_cons, answer_consistency=a_cons,
                       consistent=bool(min(t_cons, a_cons) >= consistency))
    said_by_dfa = dfa.accepts(strings)
    details["balanced_agreement"] = float(np.mean([(said_by_dfa == answers)[answers == c].float().mean()
                                                   for c in (False, True) if bool((answers == c).any())]))
    details["equivalent_to_language"] = bool(dfa.equivalent(minimal_automaton(task.accepts, task.alphabet)))
    agree = float((said_by_dfa == answers).float().mean())
    return Automaton(dfa.transitions, dfa.accepting, dfa.initial, dfa.alphabet, agree, M, details,
                     points[:inner], dfa.run(strings[:inner]))
