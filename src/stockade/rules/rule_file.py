"""BFE's ``block_rules.data``: per-product lists of named conditions that CLOSE or ALLOW a request.

```json
{"Version": "1", "Config": {"global": [{"Cond": "req_path_prefix_in(\\"/admin\\", false)",
  "Name": "no_admin", "Action": {"Cmd": "CLOSE", "Params": []}}], "shop": []}}
```

The file is decoded as BFE decodes it into its Go structs (``bfe.md`` §2.2): keys match the
field names in any ASCII case (``cond``, ``COND``), unknown keys are ignored, a later key
overrides an earlier one (``null`` included), only the first JSON value is read (trailing
bytes are ignored), and a value of the wrong JSON type is a decode error. Validation then
gives BFE's messages, word for word: ``no Version``, ``no Config``, ``Config:no
blockRuleList for product:<p>`` and ``Config:ProductRules:<p>, blockRule:<i>, <problem>``
(``no Cond``, ``no Name``, ``no Action``, ``Action:no Cmd``, ``Action:invalid cmd:<c>``,
``Action:no Params``, ``Action:num of params:[ok:0, now:<n>]``, ``two rules have same
name[<n>]!``). Only after every product passed are the conditions compiled; BFE reports a
condition's error unwrapped (``1:1 syntax error``), and :class:`RuleFileError` keeps it as
``cause`` with the product, the rule's index and its name.

Go visits products in random map order, so with several bad products BFE may name any;
stockade names the first in file order. An error of a product or a rule also says where it
is in the file (:attr:`RuleFileError.line` and ``column``): the rule, or for a condition
the character its mistake is on, so that an editor can jump there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stockade._native import BlockRules
from stockade.conditions import Condition, ConditionError, RuleList, compile_condition
from stockade.conditions.lowering import Lowered, lowered
from stockade.errors import RuleFileError
from stockade.rules.decision import BlockDecision
from stockade.rules.gojson import (
    JSONObject,
    JSONSyntaxError,
    Step,
    decode_first,
    go_string,
    go_type_name,
    line_column,
    locate,
    string_at,
    string_offset,
)

__all__ = ["ALLOW", "CLOSE", "GLOBAL", "BlockRule", "ProductRules", "RuleSet", "load_rule_file", "parse_rule_file"]

GLOBAL = "global"  # bfe_basic.GlobalProduct: its rules run before every product's
CLOSE = "CLOSE"
ALLOW = "ALLOW"
_COMMANDS = (CLOSE, ALLOW)
_EMPTY = (
    "the file is empty (BFE: EOF): expected a JSON object with the rules of each product, like"
    ' {"Version": "1", "Config": {"global": []}}'
)


@dataclass(frozen=True, slots=True)
class BlockRule:
    """One rule: its name, compiled condition and command (``CLOSE`` or ``ALLOW`` from a file)."""

    name: str
    condition: Condition
    command: str


@dataclass(frozen=True, slots=True)
class ProductRules:
    """A product's rules in file order.

    ``decisions`` holds, per rule, the :class:`BlockDecision` it makes when it matches, or
    None for a command other than CLOSE and ALLOW (possible only for rules made in code).
    ``index`` is the Python :class:`~stockade.conditions.RuleList` of the rules, built on
    first use: the test oracle of the native index that decides in production.
    """

    rules: tuple[BlockRule, ...]
    decisions: tuple[BlockDecision | None, ...] = field(repr=False, compare=False)
    _index: list[RuleList] = field(default_factory=list, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, rules: Iterable[BlockRule]) -> ProductRules:
        items = tuple(rules)
        return cls(items, tuple(_decision(rule) for rule in items))

    @property
    def index(self) -> RuleList:
        if not self._index:
            self._index.append(RuleList((rule.name, rule.condition) for rule in self.rules))
        return self._index[0]

    def native(self) -> list[tuple[Lowered, str, BlockDecision]]:
        """The rules as the native table takes them: lowered condition, command, decision."""
        return [
            (lowered(rule.condition), rule.command, decision or BlockDecision("pass", rule.name))
            for rule, decision in zip(self.rules, self.decisions, strict=True)
        ]


def _decision(rule: BlockRule) -> BlockDecision | None:
    if rule.command == CLOSE:
        return BlockDecision("close", rule.name)
    if rule.command == ALLOW:
        return BlockDecision("allow", rule.name)
    return None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every product's rules, as one immutable value that a reload replaces whole.

    ``products`` maps a product name to its :class:`ProductRules`; ``"global"`` is special.
    ``native`` is the same rules built natively (when the set is made, so that a reload
    builds it aside), which :class:`~stockade.rules.block.BlockTable` puts in force.
    """

    version: str
    products: Mapping[str, ProductRules]
    native: BlockRules = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        native = BlockRules([(product, rules.native()) for product, rules in self.products.items()])
        object.__setattr__(self, "native", native)

    @classmethod
    def build(cls, products: Mapping[str, Iterable[BlockRule]], *, version: str = "") -> RuleSet:
        """A rule set made in code; commands are not checked (any other than CLOSE and ALLOW counts WRONG_COMMAND)."""
        return cls(version, {product: ProductRules.of(rules) for product, rules in products.items()})

    @classmethod
    def empty(cls) -> RuleSet:
        return cls("", {})

    def __len__(self) -> int:
        """The number of rules over all products."""
        return sum(len(rules.rules) for rules in self.products.values())


def load_rule_file(path: str) -> RuleSet:
    """Read and parse ``path``; raise :class:`RuleFileError`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        text = exc.strerror or str(exc)
        raise RuleFileError(path, f"open {path}: {text[:1].lower()}{text[1:]}") from None
    return parse_rule_file(data, file=path)


def parse_rule_file(data: bytes | str, *, file: str = "block_rules.data") -> RuleSet:
    """The :class:`RuleSet` of a rule file's content; raise :class:`RuleFileError` where BFE rejects it."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        value = decode_first(text)
    except JSONSyntaxError as exc:
        if exc.message == "EOF":
            raise RuleFileError(file, "EOF", reason=_EMPTY) from None
        raise RuleFileError(file, f"invalid JSON: {exc}", line=exc.line or None, column=exc.column or None) from None
    version, config = _decode_top(file, value)
    if version is None:
        raise RuleFileError(file, "no Version")
    if config is None:
        raise RuleFileError(file, "no Config")
    try:
        checked = {product: _check_product(file, product, rules) for product, rules in config.items()}
        products: dict[str, ProductRules] = {}
        for product, rules in checked.items():
            products[product] = ProductRules.of(
                _convert(file, product, index, rule) for index, rule in enumerate(rules)
            )
    except RuleFileError as exc:
        _place(exc, text)
        raise
    return RuleSet(version, products)


def _field(name: str) -> Step:
    """A struct field's keys, as :func:`_fields` matches them."""
    return lambda key: key.isascii() and key.lower() == name


def _place(error: RuleFileError, text: str) -> None:
    """Note where a product's or a rule's error is in ``text``: the value, or the mistake in a condition."""
    if error.product is None:
        return
    product = error.product
    path: list[Step] = [_field("config"), lambda key: key == product]
    if error.rule is not None:
        path.append(error.rule)
        if isinstance(error.cause, ConditionError):
            path.append(_field("cond"))
    offset = locate(text, path)
    if offset is None:
        return
    if isinstance(error.cause, ConditionError) and text[offset] == '"':
        condition = string_at(text, offset)
        offset = string_offset(text, offset, _character(condition, error.cause.line, error.cause.col))
    error.line, error.column = line_column(text, offset)


def _character(source: str, line: int, col: int) -> int:
    """The index in ``source`` of a condition's position (``line`` counts \\n, ``col`` UTF-8 bytes)."""
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return len(source)
    start = sum(len(text) + 1 for text in lines[: line - 1])
    prefix = lines[line - 1].encode("utf-8", "surrogatepass")[: max(col - 1, 0)]
    return start + len(prefix.decode("utf-8", "ignore"))


@dataclass(slots=True)
class _RawAction:
    cmd: str | None = None
    params: list[str] | None = None


@dataclass(slots=True)
class _RawRule:
    cond: str | None = None
    name: str | None = None
    action: _RawAction | None = None


def _fields(value: JSONObject, names: tuple[str, ...]) -> dict[str, object]:
    """The struct fields among an object's keys, matched in any ASCII case; the last key wins."""
    found: dict[str, object] = {}
    for key, item in value:
        if key.isascii():
            folded = key.lower()
            if folded in names:
                found[folded] = item
    return found


def _type_error(file: str, value: object, where: str, go_type: str) -> RuleFileError:
    return RuleFileError(file, f"json: cannot unmarshal {go_type_name(value)} into {where} of type {go_type}")


def _string(file: str, value: object, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return None if value is None else go_string(value)
    raise _type_error(file, value, where, "string")


def _decode_top(file: str, value: object) -> tuple[str | None, dict[str, list[_RawRule] | None] | None]:
    if value is None:
        return None, None
    if not isinstance(value, JSONObject):
        raise _type_error(file, value, "the top level", "productRuleConfFile")
    top = _fields(value, ("version", "config"))
    version = _string(file, top.get("version"), "Version")
    raw = top.get("config")
    if raw is None:
        return version, None
    if not isinstance(raw, JSONObject):
        raise _type_error(file, raw, "Config", "ProductRulesFile")
    config: dict[str, list[_RawRule] | None] = {}
    for product, rules in raw:
        where = f"Config[{product!r}]"
        if rules is None:
            config[product] = None
        elif isinstance(rules, list) and not isinstance(rules, JSONObject):
            config[product] = [_decode_rule(file, rule, f"{where}[{index}]") for index, rule in enumerate(rules)]
        else:
            raise _type_error(file, rules, where, "blockRuleFileList")
    return version, config


def _decode_rule(file: str, value: object, where: str) -> _RawRule:
    if value is None:  # null into a Go struct value leaves it zero
        return _RawRule()
    if not isinstance(value, JSONObject):
        raise _type_error(file, value, where, "blockRuleFile")
    found = _fields(value, ("cond", "name", "action"))
    rule = _RawRule(
        _string(file, found.get("cond"), f"{where}.Cond"), _string(file, found.get("name"), f"{where}.Name")
    )
    action = found.get("action")
    if action is None:
        return rule
    if not isinstance(action, JSONObject):
        raise _type_error(file, action, f"{where}.Action", "ActionFile")
    parts = _fields(action, ("cmd", "params"))
    rule.action = _RawAction(_string(file, parts.get("cmd"), f"{where}.Action.Cmd"))
    params = parts.get("params")
    if params is not None:
        if not isinstance(params, list) or isinstance(params, JSONObject):
            raise _type_error(file, params, f"{where}.Action.Params", "[]string")
        # A null inside []string leaves that element "", as in Go.
        rule.action.params = [_string(file, p, f"{where}.Action.Params[{i}]") or "" for i, p in enumerate(params)]
    return rule


def _check_product(file: str, product: str, rules: list[_RawRule] | None) -> list[tuple[str, str, str]]:
    """BFE's checks of one product's list; its rules as ``(cond, name, command)``."""
    if rules is None:
        raise RuleFileError(file, f"Config:no blockRuleList for product:{product}", product=product)
    checked: list[tuple[str, str, str]] = []
    names: set[str] = set()
    for index, rule in enumerate(rules):
        valid = _valid(rule)
        if isinstance(valid, str):
            problem = valid
        elif valid[1] in names:
            problem = f"two rules have same name[{valid[1]}]!"
        else:
            names.add(valid[1])
            checked.append(valid)
            continue
        message = f"Config:ProductRules:{product}, blockRule:{index}, {problem}"
        raise RuleFileError(file, message, product=product, rule=index, name=rule.name)
    return checked


def _valid(rule: _RawRule) -> tuple[str, str, str] | str:
    """``(cond, name, command)`` of a rule that passes BFE's checks, else the problem, in BFE's order and words."""
    if rule.cond is None:
        return "no Cond"
    if rule.name is None:
        return "no Name"
    action = rule.action
    if action is None:
        return "no Action"
    if action.cmd is None:
        return "Action:no Cmd"
    if action.cmd not in _COMMANDS:
        return f"Action:invalid cmd:{action.cmd}"
    if action.params is None:
        return "Action:no Params"
    if action.params:
        return f"Action:num of params:[ok:0, now:{len(action.params)}]"
    return rule.cond, rule.name, action.cmd


def _convert(file: str, product: str, index: int, rule: tuple[str, str, str]) -> BlockRule:
    cond, name, command = rule
    try:
        condition = compile_condition(cond)
    except ConditionError as exc:
        raise RuleFileError(file, exc.bfe_message, product=product, rule=index, name=name, cause=exc) from None
    return BlockRule(name, condition, command)
