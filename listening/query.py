"""The keyword query language of alert rules: parse a rule once, tokenize a mention once,
then match many rules against it.

    blackout superbowl             both words (adjacent terms are ANDed)
    outage OR blackout             either word
    refund* -"no refund"           a word starting with "refund", and not that phrase
    (power OR lights) AND out      parentheses; precedence is NOT > AND > OR
    #SuperBowl @brand              only that hashtag / handle

AND, OR and NOT are operators in any case (quote them, "not", to look for the word).
`-term`, `-"phrase"` and `-(group)` are NOT; the "-" must touch what it excludes.

Matching is word by word. Text and query go through the same normalize(): default-ignorable
characters (zero-width spaces and joiners, bidi marks and embeddings, variation selectors,
soft hyphens) and the Arabic tatweel are dropped, then NFKC and casefold. A word is a run of
letters, digits, "_" and combining marks, optionally led by "#" or "@" (a hashtag or handle
only when the sign does not follow a word character). A term without the sign matches the
word with or without it; a term with the sign matches only that form. Other punctuation
separates words and is ignored, also inside phrases: "power outage" matches "power, outage",
and the term covid-19 is the phrase "covid 19". Emoji (symbols) are not words: an emoji
in a term must appear somewhere in the mention, and never breaks up a phrase.

Scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar, and Hangul,
whose words carry particles) form their own words, split from neighbouring Latin letters,
and a term in those scripts matches anywhere inside such a word (停电 matches 东京停电了).
In a phrase, such a word only has to end with the first term and start with the last.

Limitations: there is no dictionary segmentation, so a CJK/Thai term can match inside an
unrelated longer word; such a term never spans a space or punctuation, so 东京停电 does not
match "东京 停电" and the phrase "东京 停电" does not match 东京停电. Matching is
accent-sensitive: cafe does not match café (the NFC and NFD forms of café match each other).
"*" works only at the end of an unquoted term; quoted text is literal.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from warroom.errors import InvalidInput

MAX_QUERY_LENGTH = 1000
MAX_DEPTH = 20

# Default_Ignorable_Code_Point, plus the Arabic tatweel (U+0640), which only stretches a word.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u0640\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)

# Blocks of scripts written without spaces between words (letters, digits and marks in them).
_NO_SPACE_BLOCKS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols: 々 〆 〇 and friends
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x1B000, 0x1B16F),  # Kana supplement and extensions
)
_NO_SPACE_SUPPLEMENTARY = "\\U00020000-\\U0003ffff"  # CJK extensions B onwards: all ideographs
_EMOJI_BLOCKS = (0x1F000, 0x1FBFF)  # unassigned code points here are taken as newer emoji
_FLAG_LETTERS = (0x1F1E6, 0x1F1FF)  # a flag is a pair of regional indicator letters


def _character_classes() -> tuple[str, str, str, frozenset[str]]:
    """Regex class bodies for no-space-script characters, combining marks of other scripts
    (BMP, then supplementary), and the set of symbols (So) that are tokens on their own.

    Letters and digits of other scripts are matched with \\w, not listed: sre checks a class
    by scanning its supplementary ranges one by one, which made every non-word character slow.
    """
    in_block = bytearray(0x20000)
    for start, end in _NO_SPACE_BLOCKS:
        in_block[start:end + 1] = b"\x01" * (end - start + 1)
    no_space: list[list[int]] = []
    marks: list[list[int]] = []
    symbols = []
    category = unicodedata.category
    for cp in range(0x20000):
        cat = category(chr(cp))
        if cat[0] in "LMN" and in_block[cp]:
            ranges = no_space
        elif cat[0] == "M":
            ranges = marks
        else:
            if cat == "So" or (cat == "Cn" and _EMOJI_BLOCKS[0] <= cp <= _EMOJI_BLOCKS[1]):
                symbols.append(chr(cp))
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])

    def body(ranges: list[list[int]]) -> str:
        return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)

    flags = {chr(cp) for cp in range(_FLAG_LETTERS[0], _FLAG_LETTERS[1] + 1)}
    return (
        body(no_space) + _NO_SPACE_SUPPLEMENTARY,
        body([r for r in marks if r[0] <= 0xFFFF]),
        body([r for r in marks if r[0] > 0xFFFF]),
        frozenset(symbols) - flags,
    )


_NS, _MARKS_BMP, _MARKS_SUPPLEMENTARY, _SYMBOLS = _character_classes()
_LETTER = f"[^\\W{_NS}]"  # a \w character of a script written with spaces
_MARK = f"(?:[{_MARKS_BMP}]|(?=[\\U00010000-\\U0010ffff])[{_MARKS_SUPPLEMENTARY}])"
_WORD = re.compile(f"(?:(?<!\\w)[#@])?(?:{_LETTER}+(?:{_MARK}+{_LETTER}*)*|[{_NS}]+)")
_FLAG = re.compile(f"[\\U{_FLAG_LETTERS[0]:08x}-\\U{_FLAG_LETTERS[1]:08x}]{{2}}")
_ASCII_WORD = re.compile(r"(?:(?<!\w)[#@])?\w+")
_NO_SPACE_START = re.compile(f"[#@]?[{_NS}]")
_NO_SPACE_RUN = re.compile(f"[{_NS}]+")
_QUOTES = "\"\u201c\u201d\u201e"
_CLOSING_QUOTES = "\"\u201c\u201d"


def _symbols(text: str) -> list[str]:
    """Emoji and other symbols in normalised text, each a token; flags as letter pairs."""
    if text.isascii():
        return []
    found = list(_SYMBOLS.intersection(text))
    found.extend(_FLAG.findall(text))
    return found


def normalize(text: str) -> str:
    """The form text and queries are compared in: ignorables dropped, NFKC, casefolded."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", _IGNORABLE.sub("", text)).casefold()
    return unicodedata.normalize("NFKC", text)  # casefolding can leave text unnormalised


class QuerySyntaxError(InvalidInput):
    """A query that cannot be parsed; the message names what is wrong and where."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message = message
        self.position = position  # 0-based character index in the query text


class Doc:
    """One mention's text, normalised and split into words once, to match many rules against."""

    __slots__ = (
        "text", "words", "bare_words", "word_set", "bare_set", "symbol_set",
        "_sorted_words", "_sorted_bare", "_no_space_text", "_no_space_positions",
    )

    def __init__(self, text: str, words: list[str], symbols: list[str]):
        self.text = text  # normalised
        self.words = words
        self.bare_words = [w[1:] if w[0] in "#@" else w for w in words]
        self.word_set = frozenset(words)
        self.bare_set = frozenset(self.bare_words)
        self.symbol_set = frozenset(symbols)
        self._sorted_words: list[str] | None = None
        self._sorted_bare: list[str] | None = None
        self._no_space_text: str | None = None
        self._no_space_positions: list[int] | None = None

    def __repr__(self) -> str:
        return f"Doc({self.words!r})"

    @property
    def sorted_words(self) -> list[str]:
        if self._sorted_words is None:
            self._sorted_words = sorted(self.word_set)
        return self._sorted_words

    @property
    def sorted_bare(self) -> list[str]:
        if self._sorted_bare is None:
            self._sorted_bare = sorted(self.bare_set)
        return self._sorted_bare

    @property
    def no_space_text(self) -> str:
        """The no-space-script words, one per line: a term never spans two of them."""
        if self._no_space_text is None:
            self._no_space_text = "" if self.text.isascii() else "\n".join(_NO_SPACE_RUN.findall(self.text))
        return self._no_space_text

    @property
    def no_space_positions(self) -> list[int]:
        """Indexes in words of the no-space-script words."""
        if self._no_space_positions is None:
            self._no_space_positions = (
                [i for i, w in enumerate(self.words) if _NO_SPACE_START.match(w)] if self.no_space_text else []
            )
        return self._no_space_positions


def tokenize(text: str) -> Doc:
    """Normalise a mention and split it into words and symbols. Do this once per mention."""
    text = normalize(text)
    if text.isascii():  # no marks, no scripts without spaces, no symbols: a simpler, faster split
        return Doc(text, _ASCII_WORD.findall(text), [])
    return Doc(text, _WORD.findall(text), _symbols(text))


# --- terms ------------------------------------------------------------------------------

_BARE, _TAGGED, _NO_SPACE = "bare", "tagged", "no_space"


class _Word(NamedTuple):
    kind: str
    text: str  # normalised; a tagged word keeps its "#" or "@"
    prefix: bool


Predicate = Callable[[Doc], bool]


def _has_prefix(sorted_words: list[str], prefix: str) -> bool:
    i = bisect.bisect_left(sorted_words, prefix)
    return i < len(sorted_words) and sorted_words[i].startswith(prefix)


def _single_word(word: _Word) -> Predicate:
    text = word.text
    if word.kind == _NO_SPACE:
        return lambda doc: text in doc.no_space_text
    if word.kind == _TAGGED:
        if word.prefix:
            return lambda doc: _has_prefix(doc.sorted_words, text)
        return lambda doc: text in doc.word_set
    if word.prefix:
        return lambda doc: _has_prefix(doc.sorted_bare, text)
    return lambda doc: text in doc.bare_set


def _word_fits(word: _Word, doc: Doc, i: int, k: int, last: int) -> bool:
    """Does doc word i fit the k-th of last+1 phrase words?"""
    text = word.text
    if word.kind == _NO_SPACE:
        found = doc.bare_words[i]
        if k == 0:
            return found.endswith(text)
        if k == last or word.prefix:
            return found.startswith(text)
        return found == text
    found = doc.words[i] if word.kind == _TAGGED else doc.bare_words[i]
    return found.startswith(text) if word.prefix else found == text


def _phrase(words: tuple[_Word, ...]) -> Predicate:
    """Consecutive words: find the first word's positions with list.index, check the rest."""
    first, rest = words[0], tuple(enumerate(words))[1:]
    last = len(words) - 1
    needed = [(w.text, w.kind == _TAGGED) for w in words if w.kind != _NO_SPACE and not w.prefix]

    def matches(doc: Doc) -> bool:
        for text, tagged in needed:  # cheap rejection before scanning
            if text not in (doc.word_set if tagged else doc.bare_set):
                return False
        end = len(doc.words) - last
        for i in _starts(first, doc):
            if i >= end:
                return False
            if all(_word_fits(word, doc, i + k, k, last) for k, word in rest):
                return True
        return False

    return matches


def _starts(first: _Word, doc: Doc):
    """Ascending indexes of the doc words the first word of a phrase can be."""
    if first.kind == _NO_SPACE:
        text = first.text
        return (i for i in doc.no_space_positions if doc.bare_words[i].endswith(text))
    return _indexes(doc.words if first.kind == _TAGGED else doc.bare_words, first.text)


def _indexes(words: list[str], text: str):
    i = -1
    try:
        while True:
            i = words.index(text, i + 1)
            yield i
    except ValueError:
        return


def _all_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        a, b = predicates
        return lambda doc: a(doc) and b(doc)

    def all_of(doc: Doc) -> bool:
        for predicate in predicates:
            if not predicate(doc):
                return False
        return True

    return all_of


def _any_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 2:
        a, b = predicates
        return lambda doc: a(doc) or b(doc)

    def any_of(doc: Doc) -> bool:
        for predicate in predicates:
            if predicate(doc):
                return True
        return False

    return any_of


# --- syntax tree ------------------------------------------------------------------------

class _Term:
    def __init__(self, words: tuple[_Word, ...], symbols: tuple[str, ...]):
        self.words = words
        self.symbols = symbols

    def compile(self) -> Predicate:
        predicates: list[Predicate] = []
        if len(self.words) == 1:
            predicates.append(_single_word(self.words[0]))
        elif self.words:
            predicates.append(_phrase(self.words))
        for symbol in self.symbols:
            predicates.append(lambda doc, symbol=symbol: symbol in doc.symbol_set)
        return _all_of(predicates)

    def collect(self, positive: bool, out: set[str]) -> None:
        if positive:
            if self.words:
                text = " ".join(word.text for word in self.words)
                out.add(text + "*" if self.words[-1].prefix else text)
            out.update(self.symbols)


class _Not:
    def __init__(self, child):
        self.child = child

    def compile(self) -> Predicate:
        child = self.child.compile()
        return lambda doc: not child(doc)

    def collect(self, positive: bool, out: set[str]) -> None:
        self.child.collect(not positive, out)


class _And:
    def __init__(self, children: list):
        self.children = children

    def compile(self) -> Predicate:
        return _all_of([child.compile() for child in self.children])

    def collect(self, positive: bool, out: set[str]) -> None:
        for child in self.children:
            child.collect(positive, out)


class _Or(_And):
    def compile(self) -> Predicate:
        return _any_of([child.compile() for child in self.children])


# --- lexer and parser -------------------------------------------------------------------

_TERM, _PHRASE, _LPAREN, _RPAREN, _AND, _OR, _NOT, _MINUS, _END = (
    "term", "phrase", "(", ")", "AND", "OR", "NOT", "-", "end",
)
_OPERATORS = {"and": _AND, "or": _OR, "not": _NOT}
_STARTS_OPERAND = {_TERM, _PHRASE, _LPAREN, _NOT, _MINUS}


class _Token(NamedTuple):
    kind: str
    position: int
    text: str  # as typed; for a phrase, what is between the quotes


def _show(raw: str, limit: int = 40) -> str:
    """A term as typed, safe to quote in a message: no invisible or bidi characters."""
    shown = _IGNORABLE.sub("", raw)
    shown = "".join(ch if ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in shown)
    return shown if len(shown) <= limit else shown[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace() or _IGNORABLE.match(ch):
            i += 1
        elif ch == "(":
            tokens.append(_Token(_LPAREN, i, ch))
            i += 1
        elif ch == ")":
            tokens.append(_Token(_RPAREN, i, ch))
            i += 1
        elif ch in _QUOTES:
            end = i + 1
            while end < n and query[end] not in _CLOSING_QUOTES:
                end += 1
            if end == n:
                raise QuerySyntaxError(f"Unterminated quote starting at position {i}.", i)
            tokens.append(_Token(_PHRASE, i, query[i + 1:end]))
            i = end + 1
        elif ch == "-":  # only at the start of a token: inside a term (covid-19) it is a separator
            tokens.append(_Token(_MINUS, i, ch))
            i += 1
        else:
            end = i
            while end < n and not query[end].isspace() and query[end] not in "()" and query[end] not in _QUOTES:
                end += 1
            raw = query[i:end]
            tokens.append(_Token(_OPERATORS.get(normalize(raw), _TERM), i, raw))
            i = end
    tokens.append(_Token(_END, n, ""))
    return tokens


class _Parser:
    def __init__(self, source: str, tokens: list[_Token]):
        self.source = source
        self.tokens = tokens
        self.at = 0
        self.open: list[_Token] = []  # the "(" we are inside, innermost last

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self):
        node = self.any_of(after=None)
        token = self.peek()
        if token.kind == _RPAREN:
            raise QuerySyntaxError(f'There is a ")" at position {token.position} without a "(" before it.', token.position)
        return node

    def any_of(self, after: _Token | None):
        children = [self.all_of(after)]
        while self.peek().kind == _OR:
            children.append(self.all_of(self.take()))
        return children[0] if len(children) == 1 else _Or(_flatten(children, _Or))

    def all_of(self, after: _Token | None):
        children = [self.unary(after)]
        while True:
            kind = self.peek().kind
            if kind == _AND:
                children.append(self.unary(self.take()))
            elif kind in _STARTS_OPERAND:
                children.append(self.unary(None))
            else:
                break
        return children[0] if len(children) == 1 else _And(_flatten(children, _And))

    def unary(self, after: _Token | None):
        negate = False
        while self.peek().kind in (_NOT, _MINUS):
            after = self.take()
            if after.kind == _MINUS:
                following = self.source[after.position + 1:after.position + 2]
                if not following or following.isspace():
                    raise self.missing_right(after)
            negate = not negate
        node = self.atom(after)
        return _Not(node) if negate else node

    def atom(self, after: _Token | None):
        token = self.peek()
        if token.kind == _TERM:
            self.take()
            return _compile_term(token.text, token.position, phrase=False)
        if token.kind == _PHRASE:
            self.take()
            return _compile_term(token.text, token.position, phrase=True)
        if token.kind == _LPAREN:
            self.take()
            if len(self.open) == MAX_DEPTH:
                raise QuerySyntaxError(
                    f"Parentheses are nested more than {MAX_DEPTH} deep at position {token.position}.", token.position
                )
            if self.peek().kind == _RPAREN:
                raise QuerySyntaxError(
                    f'Empty parentheses "()" at position {token.position}: put a word inside or remove them.',
                    token.position,
                )
            self.open.append(token)
            node = self.any_of(after=None)
            if self.peek().kind != _RPAREN:
                raise QuerySyntaxError(
                    f'Expected a closing ")" for the "(" at position {token.position}.', token.position
                )
            self.take()
            self.open.pop()
            return node
        raise self.missing_operand(after, token)

    def missing_right(self, operator: _Token) -> QuerySyntaxError:
        where = "right after" if operator.kind == _MINUS else "after"
        return QuerySyntaxError(
            f'Expected a word, phrase or "(" {where} "{operator.text}" at position {operator.position}.',
            operator.position,
        )

    def missing_operand(self, after: _Token | None, token: _Token) -> QuerySyntaxError:
        if after is not None:
            return self.missing_right(after)
        if token.kind in (_AND, _OR):
            return QuerySyntaxError(
                f'"{token.text}" at position {token.position} needs a word, phrase or "(" before it.', token.position
            )
        if token.kind == _RPAREN:
            return QuerySyntaxError(
                f'There is a ")" at position {token.position} without a "(" before it.', token.position
            )
        if self.open:
            opening = self.open[-1]
            return QuerySyntaxError(
                f'Expected a closing ")" for the "(" at position {opening.position}.', opening.position
            )
        return _empty_query()


def _flatten(children: list, kind: type) -> list:
    flat = []
    for child in children:
        flat.extend(child.children if type(child) is kind else [child])
    return flat


def _compile_term(raw: str, position: int, *, phrase: bool) -> _Term:
    prefix = False
    body = raw
    if not phrase and "*" in raw:
        star = raw.index("*")
        if star != len(raw) - 1:
            raise QuerySyntaxError(
                f'A "*" can only end a word, as in refund*; the one at position {position + star} '
                f'is inside "{_show(raw)}".',
                position + star,
            )
        prefix, body = True, raw[:-1]
    text = normalize(body)
    found = _WORD.findall(text)
    symbols = tuple(sorted(set(_symbols(text))))
    if prefix and not found:
        star = position + len(raw) - 1
        raise QuerySyntaxError(f'Put at least one letter or digit before the "*" at position {star}.', star)
    if not found and not symbols:
        if phrase and not _IGNORABLE.sub("", raw).strip():
            raise QuerySyntaxError(
                f'Empty phrase "" at position {position}: put words between the quotes or remove them.', position
            )
        what = f"The phrase at position {position}" if phrase else f'"{_show(raw)}" at position {position}'
        raise QuerySyntaxError(f"{what} has no letters, digits or emoji to match.", position)
    words = []
    for i, word in enumerate(found):
        if word[0] in "#@":
            kind = _TAGGED
        elif _NO_SPACE_START.match(word):
            kind = _NO_SPACE
        else:
            kind = _BARE
        words.append(_Word(kind, word, prefix and i == len(found) - 1))
    return _Term(tuple(words), symbols)


def _empty_query() -> QuerySyntaxError:
    return QuerySyntaxError('The query is empty: write at least one word or "phrase" to look for.', 0)


# --- public API -------------------------------------------------------------------------

class Query:
    """A parsed rule query. Immutable; match it against any number of tokenized mentions."""

    __slots__ = ("source", "_tree", "_predicate")

    def __init__(self, source: str, tree):
        self.source = source
        self._tree = tree
        self._predicate = tree.compile()

    def __repr__(self) -> str:
        return f"Query({self.source!r})"

    def matches(self, doc: Doc) -> bool:
        """Whether the tokenized mention satisfies the query."""
        return self._predicate(doc)

    def terms(self) -> set[str]:
        """The words and phrases a match can show (not those under an odd number of NOTs),
        normalised; a phrase's words are joined by one space, a prefix term ends in "*",
        and each emoji is its own entry."""
        out: set[str] = set()
        self._tree.collect(True, out)
        return out


def parse(query: str) -> Query:
    """Parse a rule query; raises QuerySyntaxError (with a position) if it is not valid."""
    if not isinstance(query, str):
        raise TypeError(f"parse() takes the query text, not {type(query).__name__}")
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"The query is {len(query):,} characters long; the limit is {MAX_QUERY_LENGTH:,} "
            f"(it goes over at position {MAX_QUERY_LENGTH}).",
            MAX_QUERY_LENGTH,
        )
    tokens = _lex(query)
    if len(tokens) == 1:
        raise _empty_query()
    return Query(query, _Parser(query, tokens).parse())


@lru_cache(maxsize=1024)
def parse_cached(query: str) -> Query:
    """`parse`, once per process for each text: the rule matchers of every ingest batch share
    one compiled Query per rule version (its text; a Query is immutable). A query that does
    not parse raises each time and is not kept."""
    return parse(query)


def matches(query: str | Query, text: str) -> bool:
    """Convenience for one-off checks: does the text match the query?"""
    parsed = query if isinstance(query, Query) else parse_cached(query)
    return parsed.matches(tokenize(text))
