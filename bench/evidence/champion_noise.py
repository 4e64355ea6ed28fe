"""How much two adapters of one recipe disagree: the noise the champion checks must tolerate.

Runs bench/evidence/champion_noise.yaml (the default LoRA recipe trained with seeds 0, 1 and
2; adapters and scores come from the caches when present), then, for every pair of adapters
and for each adapter against the base, prints per suite and capability: items, discordant
items (correct in one, wrong in the other), the standard error s of the paired mean
difference, the smallest margin a harmless successor clears 1 - alpha of the time
(2 z(1-alpha) s, as docs/gates.md sizes the other margins) and the chance that the policy's
margin fails a successor that is truly no worse (``harness.stats.null_failure_rate``).

Then, per task suite, a harmless successor is simulated with the real check
(``paired_check`` of ``not_worse_than_champion``): the first adapter's per-item results are
the champion, and a successor of the same expected accuracy flips right and wrong answers
at the median discordance the adapter pairs showed. Printed: how often it fails at the
policy's ``champion_margin`` (and at 0.05 and 0.10), and how often a successor that is truly
worse by the check's reported detectable drop is caught.

    python bench/evidence/champion_noise.py [EXPERIMENT] [--reps 400] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from rich.console import Console
    from scipy import stats

    from harness.config import load_experiment
    from harness.gates import paired_arrays
    from harness.pipeline import run_gate
    from harness.stats import null_failure_rate

    ap = argparse.ArgumentParser()
    ap.add_argument("experiment", nargs="?", default=str(Path(__file__).with_suffix(".yaml")))
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    exp = load_experiment(Path(args.experiment))
    t0 = time.perf_counter()
    result = run_gate(exp, console=Console(stderr=True))
    elapsed = time.perf_counter() - t0
    res, policy = result.results, exp.gate
    z = float(stats.norm.ppf(1 - policy.alpha))
    names = [c.name for c in exp.candidates]
    pairs = [*itertools.combinations(names, 2), *(("base", n) for n in names)]
    print(f"gate run {elapsed:.0f} s; alpha {policy.alpha}")
    discordance: dict[str, list[float]] = {}
    cols = ["pair", "suite / capability", "n", "discordant", "mean diff", "s", "2 z s"]
    print("| " + " | ".join([*cols, "margin", "P(fail null)"]) + " |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for a, b in pairs:
        for suite in exp.suites:
            groups: dict[str | None, tuple[list, list]] = {
                None: (res[a][suite.name], res[b][suite.name])
            }
            if suite.kind == "general":
                caps = sorted({it.capability for it in res[a][suite.name] if it.capability})
                for cap in caps:
                    groups[cap] = (
                        [it for it in res[a][suite.name] if it.capability == cap],
                        [it for it in res[b][suite.name] if it.capability == cap],
                    )
            for cap, (xa, xb) in groups.items():
                va, vb = paired_arrays(xa, xb, suite.metric)
                n, diff = len(va), vb - va
                sd = float(diff.std(ddof=1)) if n > 1 else 0.0
                s = sd / math.sqrt(n)
                if suite.kind == "task":
                    margin = policy.champion_margin
                else:
                    margin = policy.capability_margin if cap else policy.forgetting_margin
                p_fail = null_failure_rate(n, sd_diff=sd, margin=margin, alpha=policy.alpha)
                where = suite.name + (f" / {cap}" if cap else "")
                print(
                    f"| {a} vs {b} | {where} | {n} | {int((va != vb).sum())} "
                    f"({(va != vb).mean():.3f}) | {diff.mean():+.3f} | {s:.4f} | "
                    f"{2 * z * s:.3f} | {margin:.2f} | {p_fail:.3f} |"
                )
                if a != "base" and cap is None:
                    discordance.setdefault(suite.name, []).append(float((va != vb).mean()))
    for suite in exp.suites:
        if suite.kind == "task" and discordance.get(suite.name):
            d = float(np.median(discordance[suite.name]))
            champion = res[names[0]][suite.name]
            simulate(suite, champion, d, policy, args.reps, args.resamples)


def simulate(
    suite: Any, champion: list[Any], d: float, policy: Any, reps: int, resamples: int
) -> None:
    """A successor as good as ``champion`` on average that changes a share ``d`` of its
    answers, through the real check; and one truly worse by the reported detectable drop."""
    from harness.config import ItemResult
    from harness.gates import NOT_WORSE_THAN_CHAMPION, paired_check

    pol = policy.model_copy(update={"bootstrap_resamples": resamples})
    base = np.array([it.scores[suite.metric] for it in champion], float)
    p = float(base.mean())
    f_right, f_wrong = d / 2 / p, d / 2 / (1 - p)  # p f1 = (1 - p) f0 = d / 2
    rng = np.random.default_rng(0)

    def items(values: np.ndarray) -> list[ItemResult]:
        return [ItemResult(f"i{i}", {suite.metric: float(v)}) for i, v in enumerate(values)]

    def successor(drop: float) -> np.ndarray:
        u = rng.random(len(base))
        new = np.where(base == 1, u >= f_right, u < f_wrong).astype(float)
        extra = round(drop * len(base))
        if extra:  # a real regression: that many more right answers become wrong
            right = np.flatnonzero(new == 1)
            new[rng.choice(right, size=min(extra, len(right)), replace=False)] = 0
        return new

    def run(margin: float, drop: float) -> tuple[float, float]:
        fails, mdes = 0, []
        for _ in range(reps):
            c = paired_check(
                kind=NOT_WORSE_THAN_CHAMPION, variant="v", suite=suite, capability=None,
                base=items(base), cand=items(successor(drop)), policy=pol, margin=margin,
            )  # fmt: skip
            fails += not c.passed
            mdes.append(c.mde)
        return fails / reps, float(np.median(mdes))

    print(
        f"\n{suite.name}: champion accuracy {p:.3f}, simulated discordance {d:.3f} "
        f"(median of the adapter pairs), {reps} replications, {resamples} resamples"
    )
    print("| margin | harmless successor fails | reported detectable drop | that drop caught |")
    print("| --- | --- | --- | --- |")
    for margin in sorted({policy.champion_margin, 0.05, 0.10}):
        null_rate, mde = run(margin, 0.0)
        caught, _ = run(margin, mde)
        print(f"| {margin:.2f} | {null_rate:.3f} | {mde:.3f} | {caught:.3f} |")


if __name__ == "__main__":
    main()
