"""Does the model solve multi-step key retrieval in code? Accuracy per form, depth and order.

For each way of asking (``session``: ``>>> f()`` and a newline; ``assert``: ``assert f() == ``;
``comment``: ``# f() returns ``), each depth (1..3 look-ups) and each order (callee defined
before or after its caller), prints `mechscope.tasks.evaluate` on
``code_retrieval(n, depth=, order=, form=)``: pairwise accuracy (answer digit above the
counterfactual's digit), top-1 (the answer is the argmax over the vocabulary), and the mean
logit difference on clean and counterfactual prompts. The last line is the JSON list of rows.

    python benchmarks/code_retrieval.py --n 40 [--forms session,assert,comment] [--depths 1,2,3]
"""

from __future__ import annotations

import argparse
import json

import mechscope as ms
from mechscope.tasks import evaluate
from mechscope.tasks.builtin_mib import code_retrieval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--forms", default="session,assert,comment")
    ap.add_argument("--depths", default="1,2,3")
    ap.add_argument("--orders", default="before,after")
    ap.add_argument("--batch-size", type=int, default=20)
    args = ap.parse_args()
    model = ms.load(args.model)
    rows = []
    for form in args.forms.split(","):
        for depth in (int(d) for d in args.depths.split(",")):
            for order in args.orders.split(","):
                if depth == 1 and order == "after":  # one function: no caller, the order has no meaning
                    continue
                task = code_retrieval(args.n, depth=depth, order=order, form=form)
                r = evaluate(model, task, batch_size=args.batch_size)
                rows.append({"form": form, "depth": depth, "order": order, **r})
                print(f"{form:8s} depth {depth} {order:6s} accuracy {r['accuracy']:.3f} top-1 {r['top1_accuracy']:.3f} "
                      f"clean {r['clean_metric']:6.2f} counterfactual {r['corrupt_metric']:6.2f}", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
