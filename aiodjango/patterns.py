"""What a Django URL pattern's text tells the router before any request: static analysis.

For each pattern object of an endpoint's chain (``include()`` prefixes, then the pattern
itself) this module answers, conservatively, three questions: which literal text every match
starts with (the index key), whether that text is the whole match (a static route), and which
plain regex accepts every path the chain accepts (the prefilter). Whenever the answer could
be wrong, it is "nothing known" and the router lets Django's own ``match`` decide: lazily
translated patterns (their text depends on the active language), regexes that are not
anchored on every alternative (Django uses ``search``), backreferences, inline flags and
pattern classes it does not know. ``i18n_patterns``' prefix is known per language: it is
the active language's prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from django.core.exceptions import ImproperlyConfigured
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern

__all__ = (
    "chain_prefix",
    "depends_on_language",
    "literal_prefix",
    "prefilter",
    "regex_tokens",
)

_REGEX_META: Final = frozenset(".^$*+?{}[]\\|()")
_QUANTIFIERS: Final = frozenset("*+?{")
_FLAG_STARTS: Final = frozenset(f"?{flag}" for flag in "aiLmsux-")


def _is_lazy(pattern: object) -> bool:
    """A ``path(_("..."))`` / ``re_path(_("..."))`` pattern: its text is a lazy translation."""
    # Django keeps the text given to path()/re_path() as is; a lazy string is a Promise.
    if isinstance(pattern, RoutePattern):
        return not isinstance(getattr(pattern, "_route", ""), str)
    if isinstance(pattern, RegexPattern):
        return not isinstance(getattr(pattern, "_regex", ""), str)
    return False


def depends_on_language(pattern: object) -> bool:
    """Whether what ``pattern`` matches changes with the active language."""
    return isinstance(pattern, LocalePrefixPattern) or _is_lazy(pattern)


def literal_prefix(pattern: object, *, endpoint: bool = False) -> tuple[str, bool]:
    """The text every match of ``pattern`` starts with, and whether that text is all of it.

    ``endpoint`` says the pattern ends the chain (a ``path()``/``re_path()`` view): a regex
    ending in ``$`` is then matched whole (Django uses ``fullmatch``), so ``^about/$`` is the
    complete literal ``about/``. Anything this cannot read gives ``("", False)``.
    """
    if _is_lazy(pattern):
        return "", False
    if isinstance(pattern, LocalePrefixPattern):
        return pattern.language_prefix, True
    if isinstance(pattern, RoutePattern):
        head, sep, _ = str(pattern).partition("<")
        return head, not sep
    if isinstance(pattern, RegexPattern):
        return _regex_literal_prefix(str(pattern), endpoint)
    return "", False


def chain_prefix(patterns: Sequence[object], *, endpoint: bool = True) -> tuple[str, bool]:
    """The literal prefix of a chain of patterns; ``endpoint``: the last is a view's own."""
    prefix = ""
    for i, pattern in enumerate(patterns):
        head, complete = literal_prefix(pattern, endpoint=endpoint and i == len(patterns) - 1)
        prefix += head
        if not complete:
            return prefix, False
    return prefix, True


def _regex_literal_prefix(regex: str, endpoint: bool) -> tuple[str, bool]:
    if not regex.startswith("^") or _has_top_level_alternation(regex):
        return "", False
    out: list[str] = []
    i = 1
    while i < len(regex):
        char = regex[i]
        if char == "\\":
            if i + 1 < len(regex) and not regex[i + 1].isalnum():
                literal, width = regex[i + 1], 2
            else:
                break
        elif char in _REGEX_META:
            # A final "$" of an endpoint: Django's fullmatch makes the text the whole match.
            return "".join(out), endpoint and char == "$" and i == len(regex) - 1
        else:
            literal, width = char, 1
        if i + width < len(regex) and regex[i + width] in _QUANTIFIERS:
            break  # the quantifier may repeat or drop this character
        out.append(literal)
        i += width
    return "".join(out), i == len(regex)


def regex_tokens(regex: str) -> Iterator[tuple[int, str, bool]]:
    """``(position, token, inside a [class])`` for each token of ``regex``.

    An escape (``\\d``, ``\\(``) is one token; a ``]`` just after ``[`` or ``[^`` is a
    literal, as ``re`` reads it. Enough to find groups and alternations, not a full parser.
    """
    i, in_class, class_body = 0, False, 0
    while i < len(regex):
        token = regex[i : i + 2] if regex[i] == "\\" else regex[i]
        if in_class:
            in_class = token != "]" or i == class_body
            yield i, token, True
        else:
            if token == "[":
                in_class = True
                class_body = i + (2 if regex[i + 1 : i + 2] == "^" else 1)
            yield i, token, False
        i += len(token)


def _has_top_level_alternation(regex: str) -> bool:
    # ``^a|b/``: only the first alternative is anchored, and Django's ``search`` finds ``b/``
    # anywhere in the path.
    depth = 0
    for _, token, in_class in regex_tokens(regex):
        if in_class:
            continue
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif token == "|" and depth == 0:
            return True
    return False


def prefilter(patterns: Sequence[object]) -> str | None:
    """A regex accepting every path the chain accepts (maybe more), or None if unsure."""
    parts = []
    for pattern in patterns:
        if isinstance(pattern, LocalePrefixPattern):
            parts.append(re.escape(pattern.language_prefix))
            continue
        if _is_lazy(pattern) or not isinstance(pattern, RoutePattern | RegexPattern):
            return None
        try:
            regex = pattern.regex.pattern
        except ImproperlyConfigured:  # Django raises it for the paths that get there
            return None
        if not regex.startswith("^") or _has_top_level_alternation(regex):
            return None
        body = _uncapture(regex[1:])
        if body is None:
            return None
        parts.append(body)
    combined = "".join(parts)
    try:
        re.compile(combined)
    except re.error:
        return None
    return combined


def _uncapture(regex: str) -> str | None:
    """``regex`` with every group made non-capturing; None if it relies on group numbers."""
    out: list[str] = []
    skip_to = 0
    for i, token, in_class in regex_tokens(regex):
        if i < skip_to:
            continue
        if token[0] == "\\" and token[1:].isdigit():
            return None  # backreference
        if in_class or token != "(":
            out.append(token)
        elif regex.startswith("(?P<", i):
            out.append("(?:")
            skip_to = regex.index(">", i) + 1
        elif regex.startswith("(?P=", i) or regex[i + 1 : i + 3] in _FLAG_STARTS:
            return None  # named backreference or inline flags
        else:
            out.append("(" if regex.startswith("(?", i) else "(?:")
    return "".join(out)
