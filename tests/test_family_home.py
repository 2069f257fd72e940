"""One home for family knowledge: no module outside the family records branches on a family.

Allowed: `models/families.py` (the records), `graph/reference.py` (the naive reference keeps its own
table on purpose, written from the HF modelling code, to catch a wrong record) and
`hypothesis/groundtruth/` (it builds GPT-2 and Llama models with planted circuits by hand).
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mechscope"
ALLOWED = {"models/families.py", "graph/reference.py"}
ALLOWED_DIRS = ("hypothesis/groundtruth/",)
# a comparison with a family name, or a table keyed by families
PATTERNS = [
    re.compile(r"\.family_?\s*(==|!=|in)\s"),
    re.compile(r"model_type\s*(==|!=|in)\s"),
    re.compile(r"""["'](llama|mistral|qwen2|qwen3|gemma2|gemma3_text|olmo2|phi3|gpt2|gpt_neox)["']\s*:"""),
]


def test_no_module_branches_on_a_family():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in ALLOWED or rel.startswith(ALLOWED_DIRS):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith((">>>", "#")):
                continue
            if any(p.search(line) for p in PATTERNS):
                offenders.append(f"{rel}:{number}: {stripped}")
    assert offenders == [], "family knowledge outside its record:\n" + "\n".join(offenders)
