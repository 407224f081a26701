"""load_yaml's fast path (values built from the C parser's events) gives exactly
what yaml12.loader() gives, and hands every unusual document over to it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from tether import yaml12
from tether.errors import InvalidYaml

PROJECT = Path(__file__).resolve().parents[2]

DOCUMENTS = [
    "a: 1\nb: -2\nc: +3\nd: 0o17\ne: 0x1F\nf: 1_000\ng: 007\n",
    "a: 1.5\nb: 1e-3\nc: -.5\nd: 1.\ne: .inf\nf: -.Inf\ng: .NaN\nh: 1E+2\n",
    "a: true\nb: False\nc: TRUE\nd: yes\ne: on\nf: no\ng: off\nh: y\n",
    "a: null\nb: ~\nc:\nd: Null\ne: NULL\nf: nil\n",
    "a: '1'\nb: \"true\"\nc: 'null'\nd: \"\"\ne: ''\nf: plain text\ng: 1.2.3\nh: -x\n",
    "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\n",
    "a: !!str 1\nb: !!int '2'\n",
    "base: &b {x: 1}\nother: *b\n",
    "<<: {x: 1}\ny: 2\n",
    "- 1\n- [2, 3]\n- {a: [4, {b: 5}]}\n- - 6\n",
    "a: 1\na: 2\n",
    "1: one\n2.5: two\ntrue: three\nnull: four\n",
    "",
    "# only a comment\n",
    "plain\n",
    "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n",
    "--- 1\n",
]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("text", DOCUMENTS)
def test_fast_path_equals_the_full_loader(text: str) -> None:
    expected = yaml.load(text, Loader=yaml12.loader())
    assert _same(yaml12.load_yaml(text, "x.yaml"), expected)
    assert _same(yaml12.load_yaml(text.encode(), "x.yaml"), expected)


def test_the_project_lock_takes_the_fast_path_and_reads_the_same() -> None:
    data = (PROJECT / "dvc.lock").read_bytes()
    fast = yaml12._load_plain(data)  # no _Unusual: a lock needs no fallback
    assert _same(fast, yaml.load(data, Loader=yaml12.loader()))


@pytest.mark.parametrize("text", ["a: [1, 2\n", "a: 1\n---\nb: 2\n", "? [a]\n: 1\n", "a: b: c\n"])
def test_bad_or_unusual_documents_get_the_full_loaders_verdict(text: str) -> None:
    try:
        expected = yaml.load(text, Loader=yaml12.loader())
    except yaml.YAMLError:
        with pytest.raises(InvalidYaml):
            yaml12.load_yaml(text, "x.yaml")
    else:
        assert _same(yaml12.load_yaml(text, "x.yaml"), expected)
