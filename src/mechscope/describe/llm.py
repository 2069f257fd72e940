"""An LLM interpreter with FIND's multi-round protocol, over any OpenAI-compatible chat endpoint.

The model is told how to call the black box, ``PYTHON(fNNNN.py in1 in2 ...)``;
the harness runs every such call it writes and replies with the input-output
pairs, round after round, until the model answers with ``[DESCRIPTION]``,
``[DOMAIN]`` (numeric) and ``[CODE]`` or runs out of rounds. Any server that
speaks ``POST /v1/chat/completions`` works: llama.cpp, vLLM, Ollama, or
`mechscope.describe.serve` for an embedded model. Set ``MECHSCOPE_LLM_API_KEY``
if the server wants a bearer token.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import urllib.error
import urllib.request

from mechscope.describe.interpretation import Interpretation
from mechscope.errors import MechscopeError

_TASK = {
    "numeric": (
        "f(x) takes a number and returns a number",
        "1.5 -20 64",
        "You may test any x in [-128, 128] and call the same input more than once. The output may be noisy, "
        "and on one interval f(x) may behave differently from the rest; if so, give that interval's bounds.",
    ),
    "strings": (
        "f(x) takes a string and returns a string",
        "hello 'Two Words' abc123",
        "Try varied inputs: cases, digits, spaces, short and long strings. f(x) may combine two operations.",
    ),
    "concepts": (
        "f(x) takes a text and returns how strongly a neuron fires on it, from 0 to 1",
        "dog 'red apple' guitar",
        "Find the concept the neuron responds to by testing many single words from different topics.",
    ),
}
_FINAL = {
    "numeric": "[DESCRIPTION]: what f does, in words, including the formula as f(x) = ...\n"
    "[DOMAIN]: the interval where f behaves unexpectedly, as [low, high], or 'none'\n"
    "[CODE]: a python function f(x) that approximates f, in a ```python block (numpy is available as np)",
    "strings": "[DESCRIPTION]: what f does, in words\n"
    "[CODE]: a python function f(x) that reproduces f, in a ```python block",
    "concepts": "[DESCRIPTION]: the concept the neuron responds to\n"
    "[CODE]: a python function f(x) that returns 1.0 for texts about the concept, else 0.0, in a ```python block",
}


def endpoint(url: str) -> str:
    """The chat-completions address for a server URL.

    >>> endpoint("http://127.0.0.1:8080"), endpoint("http://h:1/v1/")
    ('http://127.0.0.1:8080/v1/chat/completions', 'http://h:1/v1/chat/completions')
    """
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


def chat(
    url: str, model: str, messages: list[dict], timeout: float = 120.0, max_tokens: int = 1024, temperature: float = 0.0
) -> str:
    """One chat completion; a one-line MechscopeError when the server cannot be used."""
    body = json.dumps({"model": model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens})
    headers = {"Content-Type": "application/json"}
    if os.environ.get("MECHSCOPE_LLM_API_KEY"):
        headers["Authorization"] = "Bearer " + os.environ["MECHSCOPE_LLM_API_KEY"]
    req = urllib.request.Request(endpoint(url), data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the user's own endpoint
            doc = json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        raise MechscopeError(
            f"chat server at {endpoint(url)} answered HTTP {exc.code}; check the URL and the model name {model!r}"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise MechscopeError(
            f"cannot reach a chat server at {endpoint(url)} ({exc}); start one (llama.cpp, vLLM, "
            "Ollama, `mechscope describe serve`) or fix the URL"
        ) from exc
    try:
        return doc["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise MechscopeError(
            f"chat server at {endpoint(url)} sent no choices[0].message.content; is it OpenAI-compatible?"
        ) from exc


def parse_spec(spec: str) -> tuple[str, str]:
    """``llm:URL#MODEL`` -> (URL, MODEL).

    >>> parse_spec("llm:http://127.0.0.1:8080/v1#smollm2")
    ('http://127.0.0.1:8080/v1', 'smollm2')
    """
    rest = spec[4:] if spec.startswith("llm:") else spec
    url, sep, model = rest.rpartition("#")
    if not sep or not url.startswith(("http://", "https://")) or not model:
        raise MechscopeError(
            f"LLM interpreter {spec!r} is not llm:URL#MODEL; e.g. llm:http://127.0.0.1:8080/v1#smollm2"
        )
    return url, model


def prompt(domain: str, script: str) -> str:
    what, example, hint = _TASK[domain]
    return (
        f"You are interpreting a black-box function f(x) implemented in the script {script}; {what}.\n"
        f"You can only run it. Write PYTHON({script} {example}) to call it on several inputs at once; I will "
        f"reply with the input-output pairs. {hint}\nRun experiments over several rounds before you answer. "
        f"When you are sure, reply with your final answer in exactly this form:\n{_FINAL[domain]}"
    )


def _format_pairs(domain: str, f, args: list[str]) -> str:
    pairs = []
    for a in args[:64]:
        try:
            out = f(float(a)) if domain == "numeric" else f(a)
            out = float(out) if domain == "numeric" else out
        except Exception:
            out = None
        pairs.append(f"({a}, {out})" if domain == "numeric" else f"({a!r}, {out!r})")
    return "Function input - output pairs: " + " ".join(pairs)


def _call_args(inside: str) -> list[str]:
    try:
        args = shlex.split(inside)
    except ValueError:
        args = inside.split()
    return args[1:] if args and args[0].endswith(".py") else args


def parse_final(reply: str, domain: str) -> tuple[str, str, list | None, str | None]:
    """Description, code, corrupted interval and noise type from a final answer.

    >>> reply = "[DESCRIPTION]: f(x) = 2*x\\n[DOMAIN]: none\\n[CODE]: ```python\\ndef f(x):\\n    return 2*x\\n```"
    >>> parse_final(reply, "numeric")[1]
    'def f(x):\\n    return 2*x'
    """

    def section(tag, stops):
        m = re.search(rf"\[{tag}\]\s*:?(.*?)(?=" + "|".join(rf"\[{s}\]" for s in stops) + r"|\Z)", reply, re.S)
        return m.group(1).strip() if m else ""

    description = section("DESCRIPTION", ["DOMAIN", "CODE"])
    dom = section("DOMAIN", ["CODE", "DESCRIPTION"])
    code_text = section("CODE", ["DESCRIPTION", "DOMAIN"])
    block = re.search(r"```(?:python)?\s*\n(.*?)```", code_text or reply, re.S)
    code = (block.group(1) if block else code_text).strip()
    interval = None
    m = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:,|and|to)\s*(-?\d+(?:\.\d+)?)", dom)
    if domain == "numeric" and m and not re.search(r"\bnone\b|\bno interval\b", dom, re.I):
        lo, hi = sorted((float(m.group(1)), float(m.group(2))))
        interval = [lo, hi]
    noise = None
    for name, pat in (("normal", r"(normal|gaussian) noise"), ("uniform", r"uniform noise"), ("poisson", r"poisson")):
        if re.search(pat, description + " " + dom, re.I):
            noise = name
            break
    return description, code, interval, noise


class LLMInterpreter:
    """FIND's interpretation agent: experiments over rounds, then a description and code."""

    trusted = False

    def __init__(self, url: str, model: str, max_rounds: int = 8, timeout: float = 120.0, max_tokens: int = 1024):
        self.url, self.model, self.max_rounds, self.timeout, self.max_tokens = (
            url,
            model,
            max_rounds,
            timeout,
            max_tokens,
        )
        self.name = f"llm:{url}#{model}"

    def interpret(self, item: dict, bench) -> Interpretation:
        domain = item["domain"]
        script = item["id"].split("/")[-1] + ".py"
        f = bench.function(item["id"])
        messages = [{"role": "user", "content": prompt(domain, script)}]
        calls = 0
        for rnd in range(self.max_rounds + 1):
            reply = chat(self.url, self.model, messages, self.timeout, self.max_tokens)
            messages.append({"role": "assistant", "content": reply})
            if "[CODE]" in reply or "[DESCRIPTION]" in reply:
                desc, code, interval, noise = parse_final(reply, domain)
                return Interpretation(
                    desc, code, interval, noise, {"rounds": rnd + 1, "calls": calls, "transcript": messages}
                )
            found = re.findall(r"PYTHON\(([^)]*)\)", reply)
            if rnd == self.max_rounds - 1:
                text = (
                    "That was your last experiment round. Give your final answer now, in the form:\n" + _FINAL[domain]
                )
            elif not found:
                text = f"Run experiments with PYTHON({script} ...), or give your final answer as:\n{_FINAL[domain]}"
            else:
                outs = [_format_pairs(domain, f, _call_args(inside)) for inside in found]
                calls += sum(len(_call_args(inside)) for inside in found)
                text = "Response: " + "\n".join(outs)
            messages.append({"role": "user", "content": text})
        return Interpretation(
            "", "", None, None, {"rounds": self.max_rounds + 1, "calls": calls, "transcript": messages, "final": False}
        )
