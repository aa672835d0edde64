"""Literal alternations skip RE2; the answer must be RE2's all the same."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.conditions.matchers import Regexp

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

words = st.text(alphabet="abcKSsk-/ 019", min_size=1, max_size=6)
texts = st.text(alphabet="abcdKSsk-/ 019xyzABC\u00e9\u017f\u212a", max_size=30)


@settings(max_examples=400, deadline=None)
@given(alternatives=st.lists(words, min_size=1, max_size=4), fold=st.booleans(), text=texts)
def test_literal_alternations_answer_as_re2(alternatives: list[str], fold: bool, text: str) -> None:
    pattern = ("(?i)" if fold else "") + "|".join(alternatives)
    expected = re2.compile(pattern, _OPTIONS).search(text) is not None
    assert Regexp(pattern)(text) is expected


def test_the_fast_path_is_taken_only_for_plain_words() -> None:
    assert Regexp("(?i)sqlmap|nikto")._words == ("sqlmap", "nikto")
    assert Regexp("sqlmap|Nikto")._words == ("sqlmap", "Nikto")
    assert Regexp("sql.ap|nikto")._words is None
    assert Regexp("(?i)(a|b)")._words is None


def test_folding_of_non_ascii_text_is_left_to_re2() -> None:
    # RE2 folds the long s (U+017F) to "s": the substring shortcut must not answer here.
    assert Regexp("(?i)sqlmap")("\u017fqlmap") is True
    assert Regexp("(?i)sqlmap")("xx SQLMAP/1.0") is True
