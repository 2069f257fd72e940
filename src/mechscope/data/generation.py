"""Candidate prompts from the instruct model: few-shot lists that it continues by one line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mechscope.errors import MechscopeError

DEFAULT_GENERATOR = "smollm2-135m"
HEADER = "Questions and requests that people send to an assistant"
_BULLET = re.compile(r"^\s*(?:(?:[-*\u2022]|\d+[.)])\s*)+")


def few_shot_prompt(examples: list[str], topic_words: list[str] | None = None, header: str = HEADER) -> str:
    """A bulleted list of `examples` under a header (naming `topic_words` when given), open for one more line.

    >>> print(few_shot_prompt(["How do I boil an egg?", "Why did my bread not rise?"], ["egg", "bread"]))
    Questions and requests that people send to an assistant, about egg, bread:
    - How do I boil an egg?
    - Why did my bread not rise?
    -
    """
    about = f", about {', '.join(topic_words)}" if topic_words else ""
    return f"{header}{about}:\n" + "".join(f"- {e.strip()}\n" for e in examples) + "-"


def clean_candidate(text: str, min_words: int = 3, max_words: int = 60) -> str:
    """The first line of a continuation without bullet or quotes; "" when it is too short or too long.

    >>> clean_candidate(' "How do I fix a tap?"\\n- next'), clean_candidate(" ok")
    ('How do I fix a tap?', '')
    >>> clean_candidate("- 2) What is rent?")
    'What is rent?'
    """
    line = text.strip().split("\n", 1)[0].strip()
    line = _BULLET.sub("", line).strip().strip('"\u201c\u201d').strip()
    n = len(line.split())
    return line if min_words <= n <= max_words else ""


REWRITE_DEMOS = (
    ("How do I get a stain out of a white shirt?", "What is the best way to remove a stain from my white shirt?"),
    ("Which bus goes to the museum?", "Can you tell me which bus I should take to get to the museum?"),
)


def rewrite_prompt(seed: str) -> str:
    """The completion prompt the steered generator rewrites a seed prompt from: two fixed demonstrations,
    then the seed.

    >>> rewrite_prompt("How do I boil an egg?").splitlines()[-2:]
    ['Question: How do I boil an egg?', 'Rewritten:']
    """
    demos = "".join(f"Question: {q}\nRewritten: {r}\n\n" for q, r in REWRITE_DEMOS)
    return f"Rewrite each question in other words.\n\n{demos}Question: {seed.strip()}\nRewritten:"


@dataclass(frozen=True, eq=False)
class Generator:
    """The instruct model that writes candidates, with its spec and fingerprint for provenance."""

    model: object

    @classmethod
    def load(cls, spec_or_model=DEFAULT_GENERATOR, device: str | None = None, dtype: str | None = None) -> Generator:
        """A generator from a model spec (loaded on `device` in `dtype`), a loaded `mechscope.models.Model`,
        or a Generator (returned as is)."""
        if isinstance(spec_or_model, Generator):
            return spec_or_model
        if not isinstance(spec_or_model, str):
            return cls(spec_or_model)
        from mechscope.models import load

        return cls(load(spec_or_model, device=device, dtype=dtype))

    def provenance(self) -> dict:
        return {"spec": self.model.spec, "fingerprint": self.model.fingerprint}

    def sample(self, prompts: list[str], seed: int, max_new_tokens: int = 32, temperature: float = 0.9,
               steering=None, strength: float | None = None, batch_size: int = 32, positions: str = "all"
               ) -> list[str]:
        """One sampled line per prompt (uncleaned), reproducible for a seed.

        >>> g = Generator.load("random:llama-tiny")
        >>> len(g.sample(["- a\\n- b\\n-"] * 2, seed=0, max_new_tokens=3))
        2
        """
        from mechscope.steer.generate import generate

        if not prompts:
            raise MechscopeError("no prompts to generate from")
        return generate(self.model, prompts, steering=steering, strength=strength, max_new_tokens=max_new_tokens,
                        seed=seed, temperature=temperature, top_p=0.95, top_k=50, batch_size=batch_size,
                        stop_at_newline=True, positions=positions)
