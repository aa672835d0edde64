"""The Rules page: mod_block's counters and hits by rule, detection's hits by category and rule, and two tryouts.

The tryouts change nothing: ``conditions explain`` prints a condition as stockade reads it
(every binary operation in parentheses), and the detection tryout explains what detection
makes of a request (every rule it fires, on which part, the score), without counting a strike.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockade.conditions import ConditionError, explain
from stockade.console.detection import Tried, categories, try_request
from stockade.console.forms import choice
from stockade.console.web import Parts, Reply, Request, render
from stockade.metrics.hits import OTHER

METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")


@dataclass(frozen=True, slots=True)
class BlockRuleRow:
    product: str
    name: str
    command: str
    condition: str
    hits: int


@dataclass(frozen=True, slots=True)
class CategoryRow:
    category: str
    hits: int
    rules: list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class Explained:
    condition: str
    text: str | None = None
    error: str | None = None


def block_rows(parts: Parts) -> list[BlockRuleRow]:
    """Every rule in force, in file order (``global`` first), with its hits since the server started."""
    block = parts.block
    if block is None:
        return []
    hits = parts.metrics.block_rule_hits
    products = block.table.rules.products
    order = sorted(products, key=lambda name: (name != "global", name))
    return [
        BlockRuleRow(product, rule.name, rule.command, rule.condition.text, hits.get(rule.name))
        for product in order
        for rule in products[product].rules
    ]


def detection_rows(parts: Parts) -> list[CategoryRow]:
    """Hits by category, each with its rules; categories the events named win over those the rules carry."""
    known = categories(parts.guard.settings.bans)
    detections = parts.metrics.detections
    grouped: dict[str, list[tuple[str, int]]] = {}
    for rule, hits in detections.rules.snapshot().items():
        grouped.setdefault(known.get(rule, OTHER), []).append((rule, hits))
    for rule, category in known.items():
        if rule not in detections.rules.counts:
            grouped.setdefault(category, []).append((rule, 0))
    named = detections.categories.snapshot()
    rows = []
    for category, rules in grouped.items():
        total = named.get(category, sum(hits for _, hits in rules))
        rows.append(CategoryRow(category, total, sorted(rules, key=lambda item: (-item[1], item[0]))))
    return sorted(rows, key=lambda row: (-row.hits, row.category))


async def rules_page(parts: Parts, request: Request) -> Reply:
    query = request.query
    status = 200
    explained = None
    condition = query.get("condition", "")
    if condition.strip():
        try:
            explained = Explained(condition, text=explain(condition))
        except ConditionError as exc:
            explained, status = Explained(condition, error=str(exc)), 400
    tried: Tried | None = None
    settings = parts.guard.settings.bans
    target = query.get("target", "")
    method = choice(query, "method", METHODS, "GET")
    body = query.get("body", "")
    if target.strip() and settings is not None:
        tried = try_request(settings.detector, categories(settings), target.strip(), method, body)
        if tried.error is not None:
            status = 400
    counters = await parts.admin.mod_block_counters()
    return render(
        parts,
        request,
        "rules.html",
        status,
        counters=counters,
        block_rules=block_rows(parts),
        block_configured=parts.block is not None,
        detection=detection_rows(parts),
        detection_on=settings is not None,
        explained=explained,
        condition=condition,
        tried=tried,
        target=target,
        body=body,
        method=method,
        methods=METHODS,
    )
