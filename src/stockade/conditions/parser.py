"""The parser of the condition language: tokens in, a :mod:`~stockade.conditions.syntax` tree out.

BFE parses conditions with a goyacc grammar (``cond.y``, bfe.md §1.2)::

    expr     = "(" expr ")" | expr "&&" expr | expr "||" expr | "!" expr | call | IDENT
    call     = IDENT "(" [ literal { "," literal } ] ")"
    literal  = STRING | BOOL | INT

and resolves its ambiguity with yacc precedence declarations, where a later line binds tighter::

    %left  LAND   (&&)
    %left  LOR    (||)
    %right NOT    (!)

So, unlike C and unlike BFE's own documentation, **``||`` binds tighter than ``&&``**:
``a && b || c`` is ``a && (b || c)`` and ``a || b && c`` is ``(a || b) && c``. ``!`` binds
tighter than both, and both binary operators associate to the left.

The algorithm is operator-precedence parsing driven by one table, :data:`BINDING_POWER` (a
higher power binds tighter). It is the iterative form of precedence climbing (Dijkstra's
shunting yard): instead of recursing, it keeps two stacks, finished operands and pending
operators (``!``, ``(``, ``&&``, ``||``), and alternates between two positions:

- *operand position*: push every ``!`` and ``(``, then read a call or a bare name as an operand;
- *operator position*: a binary operator first reduces every pending operator that binds at
  least as tightly (so equal powers group to the left, and a pending ``!`` always applies to
  the operand just read), then is pushed, back to operand position; ``)`` reduces down to its
  ``(``; the end of input reduces everything.

To *reduce* is to pop an operator and build its node from the top operands. Iteration matters:
BFE's yacc stack grows as needed, so any depth of parentheses is valid BFE, and the printer
parenthesises every binary operation, so a chain of 500 ``||`` prints as 499 nested
parentheses and must parse back. A recursive parser would hit Python's recursion limit.

Errors are BFE's. The parser holds one token of lookahead and reports a syntax error at the
first token that cannot continue a valid condition, which is where goyacc's LALR(1) tables
report it (``1:1 syntax error`` for an empty condition, the end of input for a missing ``)``).
FLOAT, IMAG and ILLEGAL tokens are "unrecognized token <number>" (goyacc's token number, see
:mod:`~stockade.conditions.lexer`). The first error raises: BFE keeps only the first too, and
the scanner is driven one token at a time as in BFE, so it is the same error.
"""

from __future__ import annotations

from stockade.conditions.errors import ConditionLexerError, ConditionSyntaxError
from stockade.conditions.lexer import Scanner, Tok, Token
from stockade.conditions.syntax import Binary, BinaryOp, Call, Ident, Literal, Node, Not, Span

__all__ = ["BINDING_POWER", "parse"]

# The one precedence table: a higher power binds tighter (bfe.md §1.2: || above &&, ! above both).
BINDING_POWER: dict[Tok, int] = {
    Tok.LAND: 10,
    Tok.LOR: 20,
    Tok.NOT: 30,
}
_BINARY_OPS: dict[Tok, BinaryOp] = {Tok.LAND: "&&", Tok.LOR: "||"}
_LITERALS = (Tok.STRING, Tok.BOOL, Tok.INT)
_UNRECOGNIZED = (Tok.FLOAT, Tok.IMAG, Tok.ILLEGAL)


def parse(text: str | bytes) -> Node:
    """Parse a condition; raise a :class:`~stockade.conditions.errors.ConditionError` at the first problem.

    Only the syntax is checked here; :func:`stockade.conditions.semant.check` checks names and arguments.
    """
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str | bytes) -> None:
        self._scanner = Scanner(text)
        self._token = self._scan()
        self._operands: list[Node] = []
        self._operators: list[Token] = []  # pending "!", "(", "&&" and "||", innermost last
        self._open = 0  # how many "(" are pending

    def parse(self) -> Node:
        while True:
            self._operand_position()
            if self._operator_position():
                return self._operands.pop()

    def _operand_position(self) -> None:
        """Any number of ``!`` and ``(``, then a call or a bare name."""
        while self._token.kind in (Tok.NOT, Tok.LPAREN):
            if self._token.kind is Tok.LPAREN:
                self._open += 1
            self._operators.append(self._token)
            self._advance()
        name = self._token
        if name.kind is not Tok.IDENT:
            raise self._syntax_error()
        self._advance()
        following = self._token
        if following.kind is Tok.LPAREN:
            self._operands.append(self._call(name))
        else:
            self._operands.append(Ident(name.text, self._span(name.start, name.end)))

    def _operator_position(self) -> bool:
        """Any number of ``)``, then a binary operator (False: an operand follows) or the end (True: done)."""
        while True:
            kind = self._token.kind
            if kind in _BINARY_OPS:
                self._reduce(BINDING_POWER[kind])
                self._operators.append(self._token)
                self._advance()
                return False
            if kind is Tok.RPAREN and self._open:
                self._reduce(0)
                self._operators.pop()  # its "("
                self._open -= 1
                self._advance()
            elif kind is Tok.EOF and not self._open:
                self._reduce(0)
                return True
            else:
                raise self._syntax_error()

    def _reduce(self, min_power: int) -> None:
        """Build the nodes of the pending operators that bind at least ``min_power``, stopping at ``(``."""
        operators, operands = self._operators, self._operands
        while operators and operators[-1].kind is not Tok.LPAREN:
            if BINDING_POWER[operators[-1].kind] < min_power:
                return
            operator = operators.pop()
            right = operands.pop()
            if operator.kind is Tok.NOT:
                operands.append(Not(right, self._span(operator.start, right.span.end)))
            else:
                left = operands.pop()
                span = self._span(left.span.start, right.span.end)
                operands.append(Binary(_BINARY_OPS[operator.kind], left, right, span))

    def _call(self, name: Token) -> Call:
        """``name`` was read and ``(`` is next; the arguments are literals separated by commas, no trailing comma."""
        self._advance()
        args: list[Literal] = []
        if self._token.kind is not Tok.RPAREN:
            args.append(self._literal())
            while self._token.kind is Tok.COMMA:
                self._advance()
                args.append(self._literal())
        end = self._token.end
        if self._token.kind is not Tok.RPAREN:
            raise self._syntax_error()
        self._advance()
        return Call(name.text, tuple(args), self._span(name.start, end))

    def _literal(self) -> Literal:
        token = self._token
        if token.kind not in _LITERALS:
            raise self._syntax_error()
        self._advance()
        span = self._span(token.start, token.end)
        if token.kind is Tok.STRING:
            return Literal("STRING", token.text, span, token.quote)
        if token.kind is Tok.BOOL:
            return Literal("BOOL", token.text == "true", span)
        return Literal("INT", _int_value(token.text), span)

    def _scan(self) -> Token:
        token = self._scanner.scan()
        if token.kind in _UNRECOGNIZED:
            raise self._scanner.error(token.start, f"unrecognized token {int(token.kind)}", ConditionLexerError)
        return token

    def _advance(self) -> None:
        self._token = self._scan()

    def _syntax_error(self) -> ConditionSyntaxError:
        return self._scanner.error(self._token.start, "syntax error", ConditionSyntaxError)

    def _span(self, start: int, end: int) -> Span:
        line, col = self._scanner.lines.locate(start)
        return Span(start, end, line, col)


def _int_value(text: str) -> int:
    """The value of a Go integer literal as BFE's scanner accepts it: decimal, ``0x`` hex or ``0`` octal."""
    if text[:2] in ("0x", "0X"):
        return int(text[2:], 16)
    if len(text) > 1 and text[0] == "0":
        return int(text, 8)
    return int(text)
