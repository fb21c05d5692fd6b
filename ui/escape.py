"""Model- and dataset-derived text made safe for the page: shown as exactly its characters.

Everything a model writes is hostile input, and so is a dataset's question, a run's name
or a stored id. Streamlit renders labels, captions, metrics and messages as Markdown (with
images, links, colored directives, icons and LaTeX); ECharts renders string tooltips as
HTML and reads ``{b}``-style placeholders in every formatter. Every page passes such text
through the one function here for where it is going, never through an f-string alone:

>>> print(markdown("![x](a.png) <b>"))
\\!\\[x\\]\\(a\\.png\\) \\<b\\>

Streamlit elements that read no markup at all (``st.code``, ``st.text``, ``st.json``,
dataframes, selectbox options) need no escaping.
"""

from __future__ import annotations

import html as _html
import re

# CommonMark lets a backslash escape any ASCII punctuation, and then it is only text.
_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")
# Some syntax is found in the text after Markdown is parsed, where escapes no longer count:
# GFM autolinks (``http://``, ``www.``, ``a@b.c``), Streamlit's ``:streamlit:`` (an image),
# ``:material/icon:`` and ``:smile:`` shortcodes, and arrows for ``->`` and friends. A
# zero-width space at each such seam keeps every character and breaks the match.
_SEAM = re.compile(r"(?<=:)(?=[\w+\-/])|(?<=www)(?=\.)|(?<=@)(?=[\w\-])|(?<=[<\-~>])(?=[\->=])",
                   re.IGNORECASE)
# ECharts reads ``{a}``, ``{b}``, ``{@dim}`` in formatters and ``{style|text}`` in labels.
ZWSP = "\u200b"
_BRACE = "{" + ZWSP


def markdown(value: object) -> str:
    """``value`` as Markdown that Streamlit renders as exactly its text (no link, image,
    HTML, code span, directive, icon, emoji or math)."""
    return _PUNCTUATION.sub(r"\\\1", _SEAM.sub(ZWSP, str(value)))


def html(value: object) -> str:
    """``value`` as HTML text for an ECharts tooltip: tags escaped, placeholders broken,
    line breaks kept."""
    text = _html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")
    return text.replace("\n", "<br/>")


def chart_label(value: object) -> str:
    """``value`` for an ECharts label formatter, drawn on the canvas: placeholders broken."""
    return str(value).replace("{", _BRACE)
