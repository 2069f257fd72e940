"""Steps the string baseline learns from input-output pairs alone: a constant, an affix, a character map.

A character map is generalised to an alphabet shift where the pairs agree with
one; the affix covers FIND's ``string_concatenate`` with its unenumerable
suffix, the map FIND's ``map_string`` with its permutation.
"""

from __future__ import annotations

import inspect


def _shift_rule(pairs: list[tuple[str, str]], base: str, size: int):
    """(shift, output_case) if every pair of one character class is the same cyclic shift."""
    shifts, cases = set(), set()
    for a, b in pairs:
        if not (b.isascii() and b.isalnum()):
            return None
        if base == "0":
            if not b.isdigit():
                return None
            shifts.add((int(b) - int(a)) % 10)
        else:
            if not b.isalpha():
                return None
            shifts.add((ord(b.lower()) - ord(a.lower())) % 26)
            cases.add("upper" if b.isupper() else "lower")
    if len(shifts) == 1 and len(cases) <= 1:
        return shifts.pop(), (cases.pop() if cases else None)
    return None


def learn_char_map(inputs: list[str], outputs: list[str]) -> dict | None:
    """A per-character map consistent with every pair, with shift rules where they fit."""
    if any(len(a) != len(b) for a, b in zip(inputs, outputs)):
        return None
    table: dict[str, str] = {}
    for a, b in zip(inputs, outputs):
        for ca, cb in zip(a, b):
            if table.setdefault(ca, cb) != cb:
                return None
    rules = {}
    for cls, test, base, size in (
        ("lower", str.islower, "a", 26),
        ("upper", str.isupper, "A", 26),
        ("digit", str.isdigit, "0", 10),
    ):
        pairs = [(a, b) for a, b in table.items() if a.isascii() and test(a)]
        rule = _shift_rule(pairs, base, size) if len(pairs) >= 3 else None
        if rule:
            case = None if rule[1] == cls else rule[1]  # None: the case is kept
            if (rule[0], case) != (0, None):
                rules[cls] = [rule[0], case]
    others = {a: b for a, b in table.items() if a != b and not (a.isascii() and a.isalnum() and _cls(a) in rules)}
    return {"rules": rules, "table": others}


def learn_char_map_after(middles: list[set], observed: list[set]) -> dict | None:
    """A character map m with every observed output some m(middle) of its probe's middles (a random inner step).

    `middles[i]` are the outputs an inner step can give on probe i, `observed[i]`
    the outputs seen there (other values, such as a raise, must be among the
    middles as they are). Each output is paired with the middle of its length
    whose characters agree best with the map that all candidate pairs vote for;
    the map learned from those pairs is kept only if it explains every output.

    >>> learn_char_map_after([{"ab", "bb"}, {"aa"}], [{"XY", "YY"}, {"XX"}])["table"] == {"a": "X", "b": "Y"}
    True
    """
    votes: dict[str, dict[str, float]] = {}
    cands = []
    for mids, obs in zip(middles, observed):
        for o in sorted(obs, key=repr):  # sorted: ties are broken the same way whatever the sets' order
            if not isinstance(o, str):
                continue
            c = sorted(m for m in mids if isinstance(m, str) and len(m) == len(o))
            if not c:
                return None
            cands.append((c, o))
            for m in c:
                for a, b in zip(m, o):
                    votes.setdefault(a, {})[b] = votes.get(a, {}).get(b, 0.0) + 1.0 / len(c)
    if not cands:
        return None
    best = {a: max(sorted(bs), key=bs.get) for a, bs in votes.items()}
    pairs = [(max(c, key=lambda m: sum(best[a] == b for a, b in zip(m, o))), o) for c, o in cands]
    table = learn_char_map([m for m, _ in pairs], [o for _, o in pairs])
    if table is None:
        return None
    for mids, obs in zip(middles, observed):
        can = {apply_char_map(table, m) if isinstance(m, str) else m for m in mids}
        if not obs <= can:
            return None
    return table


def _cls(c: str) -> str:
    return "lower" if c.islower() else "upper" if c.isupper() else "digit"


def apply_char_map(m: dict, s: str) -> str:
    """Apply a learned character map."""
    out = []
    for c in s:
        rule = m["rules"].get(_cls(c)) if c.isascii() and c.isalnum() else None
        if rule is None:
            out.append(m["table"].get(c, c))
        elif c.isdigit():
            out.append(str((int(c) + rule[0]) % 10))
        else:
            ch = chr((ord(c.lower()) - 97 + rule[0]) % 26 + 97)
            out.append(ch.upper() if (rule[1] or ("upper" if c.isupper() else "lower")) == "upper" else ch)
    return "".join(out)


def describe_char_map(m: dict) -> str:
    """A learned character map in the benchmark's description language."""
    parts = []
    lo, up = m["rules"].get("lower", [0, None]), m["rules"].get("upper", [0, None])
    cases = (lo[1] or "lower", up[1] or "upper")
    if lo[0] == up[0] and (cases[0] == cases[1] or cases == ("lower", "upper")):
        if lo[0]:
            parts.append(f"shifts every letter {lo[0]} places forward in the alphabet")
        if cases[0] == cases[1]:
            parts.append(f"converts the string to {cases[0]} case")
    else:
        parts += [
            f"shifts {c} letters {r[0]} places forward" + (f" and makes them {r[1]} case" if r[1] else "")
            for c, r in m["rules"].items()
            if c != "digit"
        ]
    if "digit" in m["rules"]:
        parts.append(f"adds {m['rules']['digit'][0]} to every digit, modulo 10")
    if m["table"]:
        parts.append("maps characters by the table " + " ".join(f"{a}->{b}" for a, b in sorted(m["table"].items())))
    return ", then ".join(parts) or "returns the string unchanged"


def learned_steps(inputs: list, outputs: list):
    """Programs learned from (inputs, outputs) alone: constant, affix, character map.

    Only pairs where both sides are strings teach anything; a step learned from
    them must still reproduce every pair (failures included) to be accepted.
    """
    pairs = [(a, b) for a, b in zip(inputs, outputs) if isinstance(a, str) and isinstance(b, str)]
    if not pairs:
        return
    inputs, outputs = [a for a, _ in pairs], [b for _, b in pairs]
    if len(set(outputs)) == 1:
        c = outputs[0]
        yield ("constant", c), f"always returns {c!r}", lambda s, c=c: c
    pre_suf = _affix(inputs, outputs)
    if pre_suf:
        p, q = pre_suf
        text = ", then ".join(
            t for t in [f"prepends {p!r} to the start" if p else "", f"appends {q!r} to the end" if q else ""] if t
        )
        yield ("affix", p, q), text, lambda s, p=p, q=q: p + s + q
    m = learn_char_map(inputs, outputs)
    if m is not None:
        yield ("charmap", m), describe_char_map(m), lambda s, m=m: apply_char_map(m, s)


def _affix(inputs: list[str], outputs: list[str]):
    pq = None
    for a, b in zip(inputs, outputs):
        if not a:
            continue
        i = b.find(a)
        if i < 0:
            return None
        cand = (b[:i], b[i + len(a) :])
        if pq is None:
            pq = cand
        elif pq != cand:
            return None
    return pq if pq and any(pq) else None


def learned_source(step: tuple, name: str) -> str:
    if step[0] == "constant":
        return f"def {name}(s):\n    return {step[1]!r}\n"
    if step[0] == "affix":
        return f"def {name}(s):\n    return {step[1]!r} + s + {step[2]!r}\n"
    return (
        inspect.getsource(_cls)
        + "\n\n"
        + inspect.getsource(apply_char_map).split('"""')[0].rstrip()
        + "\n"
        + inspect.getsource(apply_char_map).split('"""', 2)[2].lstrip("\n")
        + "\n\n"
        + f"def {name}(s):\n    return apply_char_map({step[1]!r}, s)\n"
    )
