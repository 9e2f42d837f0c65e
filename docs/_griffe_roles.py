"""A griffe extension for the docs site: the Sphinx roles of rnnscope's docstrings as cross-references.

The docstrings write ``:class:`~rnnscope.analysis.FlowField``` or, inside a class, ``:meth:`fit```
(Sphinx's syntax, readable in ``help()``). mkdocstrings reads Markdown, so this extension rewrites each
role as an autorefs link to the page of the API reference that documents the object, resolving the
name as Sphinx would: in the scope of the object whose docstring it is (its class, its module), then in
its public subpackage, then as the one public name of the package that ends with it. A target that
resolves to nothing documented but exists (a private helper, another library's function) is written as
code; one that does not exist is kept as it is, and ``mkdocs build --strict`` fails on it: a broken
reference. Loaded by ``mkdocs.yml`` (``extensions: [docs/_griffe_roles.py:SphinxRoles]``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj):`(~?)([\w.]+)(?:\(\))?`")
#: The subpackages whose public names the API reference documents (docs/api/).
SUBPACKAGES = ("tasks", "models", "dynamics", "training", "analysis", "data", "theory", "systems", "plotting",
               "experiments", "runs", "errors", "numerics")


def _documented() -> tuple[set[str], dict[str, str]]:
    """The public paths the API reference documents, and the public path of each object's own
    (``__module__.__qualname__``) path. A public name that is also the name of a submodule
    (``rnnscope.analysis.flow_field``) is documented at its own path (docs/api/ names it there)."""
    known: set[str] = set()
    public_of: dict[str, str] = {}
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"rnnscope.{sub}")
        known.add(module.__name__)
        public_of[module.__name__] = module.__name__
        for name in getattr(module, "__all__", ()):
            path = f"{module.__name__}.{name}"
            value = getattr(module, name)
            own = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
            if hasattr(module, "__path__") and importlib.util.find_spec(path) is not None and all(own):
                # a submodule of the same name: documented at the object's own path
                path = f"{own[0]}.{own[1]}"
                public_of[f"{module.__name__}.{name}"] = path
            known.add(path)
            if all(own):
                public_of.setdefault(f"{own[0]}.{own[1]}", path)
            if inspect.isclass(value):
                for member in vars(value):
                    if not member.startswith("_"):
                        known.add(f"{path}.{member}")
                        public_of.setdefault(f"{own[0]}.{own[1]}.{member}", f"{path}.{member}")
                fields = getattr(value, "__dataclass_fields__", {})
                known.update(f"{path}.{f}" for f in fields if not f.startswith("_"))
    return known, public_of


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` in every docstring as ``[`target`][public.path.of.target]``."""

    def __init__(self) -> None:
        super().__init__()
        self.known, self.public_of = _documented()

    def _public(self, path: str) -> str:
        """The public path of an object known by its own (private-module) path, e.g.
        ``rnnscope.training._trainer.Trainer.fit`` -> ``rnnscope.training.Trainer.fit``."""
        if path in self.known:
            return path
        head, tail = path, ""
        while "." in head:
            if head in self.public_of:
                return self.public_of[head] + tail
            head, last = head.rsplit(".", 1)
            tail = f".{last}{tail}"
        return path

    def resolve(self, target: str, scope: str) -> str:
        """The documented path that ``target`` names in the docstring of the object at ``scope``."""
        if target.startswith("rnnscope."):
            return self._public(target)
        here = self._public(scope)
        while "." in here:  # the object itself, its class, its module, its subpackage
            if f"{here}.{target}" in self.known:
                return f"{here}.{target}"
            here = here.rsplit(".", 1)[0]
        ends = sorted(k for k in self.known if k.endswith(f".{target}"))
        return ends[0] if len(ends) == 1 else target

    @staticmethod
    def exists(target: str, module: str) -> bool:
        """Whether ``target`` names something, seen from ``module`` or as a full import path."""
        for base, rest in ((importlib.import_module(module), target.split(".")), (None, target.split("."))):
            try:
                if base is None:
                    base = importlib.import_module(rest[0])
                    rest = rest[1:]
                    while rest and importlib.util.find_spec(f"{base.__name__}.{rest[0]}") is not None:
                        base = importlib.import_module(f"{base.__name__}.{rest[0]}")
                        rest = rest[1:]
                for part in rest:
                    base = getattr(base, part)
                return True
            except (ImportError, AttributeError, ValueError):
                continue
        return False

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is None:
            return

        def link(match: re.Match[str]) -> str:
            short, target = match.group(1), match.group(2)
            shown = target.rsplit(".", 1)[-1] if short else target
            path = self.resolve(target, obj.path)
            if path not in self.known:
                scope = obj.path if obj.is_class else obj.parent.path if obj.parent is not None else obj.path
                if self.exists(target, obj.module.path) or self.exists(f"{scope}.{target}".split(obj.module.path + ".", 1)[-1], obj.module.path):
                    return f"`{shown}`"  # undocumented on purpose (private) or another library's
            return f"[`{shown}`][{path}]"

        obj.docstring.value = _ROLE.sub(link, obj.docstring.value)
