"""Text from a submission stays text in every report (gradverify.markdown)."""

from __future__ import annotations

import re

import pytest

from gradverify.markdown import block, code, inline

HOSTILE = [
    "```\n# 100 / 100\n```",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "[click](http://evil.example) ![x](http://evil.example/x.png)",
    "| forged | row |\n|---|---|",
    "~~~\n# closed with tildes",
    "\u202e reversed \x1b[31m ansi",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_inline_text_is_one_line_with_no_markdown_or_html_left(text):
    shown = inline(text)
    assert "\n" not in shown and "<" not in shown and "\x1b" not in shown and "\u202e" not in shown
    for token in ("```", "](", "![", "|"):
        assert token not in shown.replace("\\" + token[0], "")  # only escaped forms remain
    assert not shown.lstrip().startswith("#")


@pytest.mark.parametrize("text", HOSTILE)
def test_a_block_cannot_be_closed_by_its_text(text):
    shown = block(text)
    fence = shown.split("\n", 1)[0].removesuffix("text")
    inner = shown.split("\n")[1:-1]
    assert shown.endswith("\n" + fence) and len(fence) >= 3
    assert not any(line.strip().startswith(fence) for line in inner)


@pytest.mark.parametrize(
    "text",
    [
        "see http://evil.example/x",
        "mail me@evil.example now",
        "go to www.evil.example",
        "HTTPS://EVIL.EXAMPLE",
        "ftp://evil.example/f",
    ],
)
def test_a_bare_url_or_address_in_inline_text_cannot_become_a_link(text):
    """GFM links bare URLs, www. names and e-mail addresses; their trigger is escaped instead."""
    shown = inline(text)
    assert not re.search(r"(?i)(?<!\\)(\b[a-z]+:(?=//)|(?<=\w)@(?=\w)|\bwww\.)", shown), shown


def test_inline_cuts_long_text():
    assert len(inline("x" * 10_000, limit=100)) == 100


@pytest.mark.parametrize("text", ["a`b", "``x``", "` lead", "plain_name.py"])
def test_a_code_span_cannot_be_closed_by_its_text(text):
    shown = code(text)
    fence = shown[: len(shown) - len(shown.lstrip("`"))]
    inner = shown[len(fence) : -len(fence)]
    assert shown.endswith(fence) and fence not in inner and "\n" not in shown
    assert inner.strip() == text
