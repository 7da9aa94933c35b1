"""The alert-rule query language: what a rule matches, and the syntax errors shown at save time."""

import random

import pytest

from listening.query import Doc, Query, QuerySyntaxError, matches, parse, tokenize
from warroom.errors import InvalidInput

# --- operators and precedence ------------------------------------------------------------


def test_adjacent_terms_are_implicitly_anded():
    assert matches("blackout superbowl", "Blackout at the Superbowl")
    assert not matches("blackout superbowl", "blackout at the stadium")
    assert parse("blackout superbowl").matches(tokenize("a superbowl blackout")) == matches(
        "blackout AND superbowl", "a superbowl blackout"
    )


def test_or_matches_either_term():
    assert matches("outage OR blackout", "a blackout")
    assert matches("outage OR blackout", "an outage")
    assert not matches("outage OR blackout", "all good")


def test_and_binds_tighter_than_or():
    assert matches("a OR b AND c", "a")  # a OR (b AND c)
    assert not matches("a OR b AND c", "b")
    assert matches("a OR b AND c", "b c")


def test_not_binds_tighter_than_and():
    assert matches("NOT a AND b", "b")  # (NOT a) AND b
    assert not matches("NOT a AND b", "a b")
    assert not matches("NOT a AND b", "c")


def test_parentheses_override_precedence():
    assert not matches("(a OR b) AND c", "a")
    assert matches("(a OR b) AND c", "a c")
    assert matches("NOT (a AND b)", "a")
    assert not matches("NOT (a AND b)", "a b")


def test_implicit_and_binds_like_and():
    assert matches("a b OR c", "c")  # (a AND b) OR c
    assert not matches("a b OR c", "a")


def test_operators_are_case_insensitive():
    assert matches("x or y", "y")
    assert not matches("x And y", "y")
    assert not matches("not x", "x")
    assert matches("x oR y", "x")


def test_operator_words_can_be_searched_when_quoted():
    assert matches('"not" good', "not good")
    assert not matches('"and"', "this or that")
    assert matches('"or"', "this or that")


def test_minus_is_shorthand_for_not():
    assert matches("blackout -superbowl", "blackout at the stadium")
    assert not matches("blackout -superbowl", "superbowl blackout")
    assert not matches('outage -"power cut"', "outage after a power cut")
    assert matches('outage -"power cut"', "outage, power is fine, cut the cake")
    assert not matches("outage -(power OR lights)", "lights outage")


def test_minus_inside_a_word_joins_it():
    assert matches("covid-19", "new COVID 19 cases")
    assert not matches("covid-19", "covid cases: 19")


def test_double_negation_cancels():
    assert matches("NOT NOT a", "a")
    assert matches("--a", "a")
    assert not matches("NOT -a", "b")


def test_not_after_a_term_is_and_not():
    assert matches("blackout NOT superbowl", "blackout")
    assert not matches("blackout NOT superbowl", "blackout superbowl")


# --- words, phrases, prefixes ------------------------------------------------------------


def test_terms_match_whole_words_only():
    assert not matches("out", "outage")
    assert not matches("outage", "out")
    assert matches("out", "lights out!")


def test_phrase_matches_consecutive_words():
    assert matches('"power outage"', "There is a power outage downtown")
    assert not matches('"power outage"', "outage of power")
    assert not matches('"power outage"', "power plant outage")


def test_phrase_ignores_punctuation_and_emoji_between_words():
    assert matches('"power outage"', "POWER... outage!!")
    assert matches('"power outage"', "power 🔥 outage")


def test_phrase_checks_every_position_of_its_first_word():
    text = "the ad, the game, the stadium lights out"
    assert matches('"the stadium"', text)
    assert matches('"stadium lights out"', text)
    assert not matches('"the lights"', text)


def test_phrase_at_the_end_of_text_does_not_run_off():
    assert not matches('"lights out now"', "the lights out")
    assert matches('"lights out"', "the lights out")


def test_curly_quotes_make_a_phrase():
    assert matches("\u201cpower outage\u201d", "power outage")
    assert not matches("\u201cpower outage\u201d", "outage power")


def test_prefix_term_matches_words_starting_with_it():
    for text in ("refund please", "refunds now", "I was refunded", "REFUNDING"):
        assert matches("refund*", text), text
    assert not matches("refund*", "no refnd")
    assert not matches("refund*", "prerefund")


def test_prefix_at_the_end_of_a_joined_term():
    assert matches("covid-1*", "covid 19")
    assert not matches("covid-1*", "covid 2")


def test_terms_reports_the_positive_terms_normalised():
    query = parse('Refund* -"No Refund" #SuperBowl 🔥 NOT (outage OR -Lights) "Power  Cut"')
    assert query.terms() == {"refund*", "#superbowl", "🔥", "lights", "power cut"}
    assert query.source == 'Refund* -"No Refund" #SuperBowl 🔥 NOT (outage OR -Lights) "Power  Cut"'


# --- normalisation -----------------------------------------------------------------------


def test_matching_is_case_insensitive_with_full_casefolding():
    assert matches("superbowl", "SUPERBOWL")
    assert matches("strasse", "Straße")
    assert matches("Straße", "STRASSE")


def test_fullwidth_and_compatibility_forms_are_normalised():
    assert matches("super", "ＳＵＰＥＲ")
    assert matches("ｓｕｐｅｒ", "super")
    assert matches("file", "\ufb01le")  # the "fi" ligature


def test_accented_words_match_in_composed_and_decomposed_forms():
    assert matches("café", "cafe\u0301 au lait")
    assert matches("cafe\u0301", "CAFÉ")
    assert matches("crème brûlée", "Crème Brûlée")
    assert not matches("cafe", "café")  # accent-sensitive, as documented


def test_zero_width_characters_inside_a_word_are_ignored():
    assert matches("superbowl", "super\u200bbowl")
    assert matches("superbowl", "super\u200dbowl")
    assert matches("superbowl", "\ufeffsuper\u2060bowl")
    assert matches("super\u200cbowl", "superbowl")


def test_hebrew_with_bidi_embeddings_and_marks():
    text = "\u202bשלום\u202c \u200fעולם\u200f"
    assert matches("שלום", text)
    assert matches('"שלום עולם"', text)
    assert matches("של\u200fום", "שלום")


def test_arabic_with_rtl_marks_and_tatweel():
    assert matches("مرحبا", "\u200fمرحبا\u200f بالعالم")
    assert matches("مرحبا", "\u2067مرحـــبا\u2069")  # tatweel only stretches the word
    assert not matches("مرحبا", "مرحبابك")


def test_combining_marks_stay_inside_the_word():
    assert matches("हिन्दी", "मैं हिन्दी बोलता हूँ")
    assert not matches("हि", "मैं हिन्दी बोलता हूँ")


def test_emoji_next_to_a_word_does_not_hide_it():
    assert matches("fire", "fire🔥sale")
    assert matches("sale", "🔥sale🔥")
    assert matches('"fire sale"', "fire🔥sale")


def test_emoji_terms_match_emoji_regardless_of_variants():
    assert matches("🔥", "hot🔥")
    assert matches("❤️", "I ❤ it")  # variation selector ignored
    assert matches("👍", "yes 👍🏽")  # skin tone ignored
    assert not matches("🔥", "fire")


def test_flags_match_as_pairs():
    assert matches("🇺🇸", "🇬🇧🇺🇸")
    assert not matches("🇸🇬", "🇺🇸🇬🇧")  # the letters S and G straddle two flags


def test_chinese_term_matches_inside_a_run_without_spaces():
    assert matches("停电", "东京停电了")
    assert matches("停电", "东京停电了吗？")
    assert not matches("停电", "东京停了电")


def test_japanese_and_thai_substrings_match():
    assert matches("停電", "東京で停電が発生")
    assert matches("スーパーボウル", "ｽｰﾊﾟｰﾎﾞｳﾙ見た")  # halfwidth katakana normalised
    assert matches("ไฟดับ", "ไฟดับที่กรุงเทพ")


def test_latin_and_cjk_are_separate_words():
    assert matches("iphone", "iPhone发布会")
    assert matches("发布会", "iPhone发布会")
    assert matches('"iphone 发布"', "iPhone发布会")
    assert not matches('"iphone 发布"', "iPhone新发布会")


# --- hashtags and handles -----------------------------------------------------------------


def test_bare_term_matches_hashtag_and_handle():
    assert matches("superbowl", "watching the #SuperBowl")
    assert matches("brand", "hey @Brand")
    assert matches("superbowl", "superbowl")


def test_hashtag_term_matches_only_the_hashtag():
    assert matches("#SuperBowl", "watching the #superbowl")
    assert not matches("#superbowl", "watching the superbowl")
    assert not matches("#superbowl", "ask @superbowl")
    assert matches("#super*", "#SuperBowlLVIII")
    assert not matches("#super*", "superbowl")


def test_handle_term_matches_only_the_handle():
    assert matches("@brand", "thanks @BRAND!")
    assert not matches("@brand", "#brand")
    assert not matches("@example", "mail me@example.com")  # an e-mail is not a handle


def test_fullwidth_hash_is_a_hashtag():
    assert matches("#superbowl", "＃ＳｕｐｅｒＢｏｗｌ")


# --- untrusted text ---------------------------------------------------------------------


def test_nul_characters_in_text_separate_words():
    assert matches("outage", "power\x00outage\x00")
    assert matches('"power outage"', "power\x00outage")
    assert not matches("poweroutage", "power\x00outage")


def test_lone_surrogates_and_control_characters_do_not_break_tokenizing():
    assert matches("outage", "\ud800 outage \x1b[31m")


def test_a_ten_thousand_character_mention():
    filler = "lorem ipsum 🔥 dolor sit amet, שלום "
    text = (filler * (10_000 // len(filler) + 1))[:9_970] + " power outage!"
    assert len(text) <= 10_000
    doc = tokenize(text)
    assert parse('"power outage"').matches(doc)
    assert parse("lorem -blackout").matches(doc)
    assert not parse('"outage power"').matches(doc)
    assert parse("🔥 שלום").matches(doc)


def test_tokenize_returns_a_reusable_doc():
    doc = tokenize("Blackout at the #SuperBowl")
    assert isinstance(doc, Doc)
    assert doc.words == ["blackout", "at", "the", "#superbowl"]
    assert "#superbowl" in doc.word_set
    assert all(parse(q).matches(doc) for q in ("blackout", "superbowl", "#superbowl", "black*"))


def test_matches_accepts_a_parsed_query():
    query = parse("blackout")
    assert isinstance(query, Query)
    assert matches(query, "BLACKOUT")


# --- syntax errors -----------------------------------------------------------------------


def error_for(query: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    return caught.value


@pytest.mark.parametrize(
    "query, position, message",
    [
        ("blackout AND", 9, 'Expected a word, phrase or "(" after "AND" at position 9.'),
        ("blackout and", 9, 'Expected a word, phrase or "(" after "and" at position 9.'),
        ("OR x", 0, '"OR" at position 0 needs a word, phrase or "(" before it.'),
        ("AND", 0, '"AND" at position 0 needs a word, phrase or "(" before it.'),
        ("NOT", 0, 'Expected a word, phrase or "(" after "NOT" at position 0.'),
        ("a NOT", 2, 'Expected a word, phrase or "(" after "NOT" at position 2.'),
        ("a OR", 2, 'Expected a word, phrase or "(" after "OR" at position 2.'),
        ("a AND OR b", 2, 'Expected a word, phrase or "(" after "AND" at position 2.'),
        ("(a AND)", 3, 'Expected a word, phrase or "(" after "AND" at position 3.'),
        ("a (OR b)", 3, '"OR" at position 3 needs a word, phrase or "(" before it.'),
        ("a -", 2, 'Expected a word, phrase or "(" right after "-" at position 2.'),
        ("- a", 0, 'Expected a word, phrase or "(" right after "-" at position 0.'),
        ("(a -)", 3, 'Expected a word, phrase or "(" right after "-" at position 3.'),
        ("x (a OR b", 2, 'Expected a closing ")" for the "(" at position 2.'),
        ("(a (b)", 0, 'Expected a closing ")" for the "(" at position 0.'),
        ("(", 0, 'Expected a closing ")" for the "(" at position 0.'),
        ("a) b", 1, 'There is a ")" at position 1 without a "(" before it.'),
        (") a", 0, 'There is a ")" at position 0 without a "(" before it.'),
        ("(a)) b", 3, 'There is a ")" at position 3 without a "(" before it.'),
        ('blackout "power', 9, "Unterminated quote starting at position 9."),
        ('"a" "b', 4, "Unterminated quote starting at position 4."),
        ("a () b", 2, 'Empty parentheses "()" at position 2: put a word inside or remove them.'),
        ('a "" b', 2, 'Empty phrase "" at position 2: put words between the quotes or remove them.'),
        ('a "  " b', 2, 'Empty phrase "" at position 2: put words between the quotes or remove them.'),
        ('"!!"', 0, "The phrase at position 0 has no letters, digits or emoji to match."),
        ("a !!!", 2, '"!!!" at position 2 has no letters, digits or emoji to match.'),
        ("f*ck", 1, 'A "*" can only end a word, as in refund*; the one at position 1 is inside "f*ck".'),
        ("a *b", 2, 'A "*" can only end a word, as in refund*; the one at position 2 is inside "*b".'),
        ("a *", 2, 'Put at least one letter or digit before the "*" at position 2.'),
        ("#*", 1, 'Put at least one letter or digit before the "*" at position 1.'),
        ("", 0, 'The query is empty: write at least one word or "phrase" to look for.'),
        ("   \t\n", 0, 'The query is empty: write at least one word or "phrase" to look for.'),
        ("\u200b\u200f", 0, 'The query is empty: write at least one word or "phrase" to look for.'),
    ],
)
def test_syntax_error_names_the_problem_and_its_position(query, position, message):
    error = error_for(query)
    assert error.position == position
    assert str(error) == message


def test_syntax_error_is_invalid_input_shown_as_a_400():
    error = error_for("a AND")
    assert isinstance(error, InvalidInput)
    assert error.status == 400


def test_syntax_error_positions_count_characters_not_bytes():
    assert error_for("停电 é 🔥 (x").position == 7


def test_error_message_strips_invisible_characters_from_the_term():
    assert str(error_for("a !\u202e!")) == '"!!" at position 2 has no letters, digits or emoji to match.'


def test_a_query_of_1000_characters_is_accepted():
    query = " OR ".join(["word"] * 200)[:1000].rstrip(" OR")
    query = query + " " + "x" * (1000 - len(query) - 1)
    assert len(query) == 1000
    assert parse(query).matches(tokenize("word"))


def test_a_query_over_1000_characters_is_refused_at_position_1000():
    error = error_for("x" * 1001)
    assert error.position == 1000
    assert str(error) == "The query is 1,001 characters long; the limit is 1,000 (it goes over at position 1000)."


def test_parentheses_nested_20_deep_are_accepted():
    assert matches("(" * 20 + "a" + ")" * 20, "a")


def test_parentheses_nested_21_deep_are_refused_at_the_21st():
    error = error_for("x " + "(" * 21 + "a" + ")" * 21)
    assert error.position == 22
    assert str(error) == "Parentheses are nested more than 20 deep at position 22."


def test_long_chains_of_negation_do_not_recurse():
    assert matches("NOT " * 240 + "a", "a")  # an even number of NOTs
    assert not matches("-" * 999 + "a", "a")  # an odd number of "-"


# --- properties and speed ------------------------------------------------------------------


def test_or_and_not_agree_with_python_booleans_on_random_texts():
    rng = random.Random(20240211)
    vocabulary = ["a", "A", "b", "#a", "@b", "ab", "a's", "b-a", "c", "ä", "a\u200b", "🔥", "停电", "\x00", "!"]
    q_or, q_and, q_a, q_b = parse("a OR b"), parse("a AND b"), parse("a"), parse("b")
    q_not, q_minus = parse("NOT a"), parse("-a")
    for _ in range(400):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 8)))
        doc = tokenize(text)
        a, b = q_a.matches(doc), q_b.matches(doc)
        assert q_or.matches(doc) == (a or b), text
        assert q_and.matches(doc) == (a and b), text
        assert q_not.matches(doc) == (not a), text
        assert q_minus.matches(doc) == (not a), text
        assert matches("a OR b", text) == (matches("a", text) or matches("b", text)), text


RULES = [
    "blackout superbowl", "outage OR blackout", 'refund* -"no refund"', "(power OR lights) AND out",
    "#superbowl", "@brand hate", '"power outage" OR "lights out"', "halftime NOT ad", "love -hate -delay",
    "停电", "(fans OR stadium) (delay OR outage) -refund*", "commercial OR ad OR spot", '"the game" -"the ad"',
    "café", "🔥 superbowl", "brand* AND NOT (love OR fans)", "game AND (halftime OR stadium) AND -outage",
    "refunded OR refunds", "x OR y OR z OR superbowl", '"stadium lights out"',
]
