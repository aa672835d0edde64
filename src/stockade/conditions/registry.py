"""The registry of condition primitives: each declared once, with its signature, builder and doc.

BFE keeps a primitive's parameter kinds in one table (``semant.go``) and its builder in a
switch elsewhere (``build.go``), and the two can drift. Here ``@primitive(name, params,
doc)`` on the builder is the whole declaration: the semantic check reads ``params``, the
compiler calls ``build`` with the literal values (``str`` for STRING, ``bool`` for BOOL),
and the documentation is generated from ``doc``. A builder validates every argument (and
raises :class:`~stockade.conditions.errors.BuildFailure` with BFE's message) and returns a
:class:`Matcher`, which only decides at run time.

Importing this module registers all 58 primitives (it imports the ``primitives`` package
last, which imports this module back for the decorator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from stockade.core.facts import RequestFacts

__all__ = ["REGISTRY", "Matcher", "ParamType", "PrimitiveSpec", "get", "names", "primitive"]

ParamType = Literal["STRING", "BOOL"]


@dataclass(frozen=True, slots=True)
class Matcher:
    """A built primitive.

    ``test(facts)`` decides and never raises; missing data is false as in BFE (``bfe.md``
    §1.4-1.5). ``expr``, when set, is an equivalent Python expression the compiler may
    inline instead of calling ``test``: ``{r}`` stands for the facts and ``{c0}``, ``{c1}``,
    ... for the entries of ``consts``; it never raises either and its value is a ``bool``
    (the generated function returns it as is). ``hint`` tells an index
    what every matching request has: ``("host", keys)`` (its ``facts.host_lower`` is one of
    ``keys``) or ``("path_prefix", prefixes)`` (its ``facts.path`` starts with one of them).
    ``lowered`` is the primitive in the form the native evaluator builds
    (:mod:`stockade.conditions.lowering`), ``None`` for a primitive that has none (only
    primitives registered by tests).
    """

    test: Callable[[RequestFacts], bool]
    expr: str | None = None
    consts: tuple[object, ...] = ()
    hint: tuple[str, frozenset[str] | tuple[str, ...]] | None = None
    lowered: tuple[object, ...] | None = None


@dataclass(frozen=True, slots=True)
class PrimitiveSpec:
    """A primitive's name, parameter kinds, one-line user documentation and builder."""

    name: str
    params: tuple[ParamType, ...]
    doc: str
    build: Callable[..., Matcher]


REGISTRY: dict[str, PrimitiveSpec] = {}

Builder = TypeVar("Builder", bound=Callable[..., Matcher])


def primitive(name: str, params: tuple[ParamType, ...], doc: str) -> Callable[[Builder], Builder]:
    """Register the decorated builder as the primitive ``name`` taking ``params``."""

    def register(build: Builder) -> Builder:
        if name in REGISTRY:
            raise ValueError(f"primitive {name} is declared twice")
        REGISTRY[name] = PrimitiveSpec(name=name, params=params, doc=doc, build=build)
        return build

    return register


def get(name: str) -> PrimitiveSpec | None:
    """The primitive called ``name`` (case-sensitive), or ``None``."""
    return REGISTRY.get(name)


def names() -> list[str]:
    """Every primitive name, sorted."""
    return sorted(REGISTRY)


import stockade.conditions.primitives  # noqa: E402, F401 - registers the primitives; must follow the decorator
