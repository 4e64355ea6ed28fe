"""How much two adapters of one recipe disagree: the noise the champion checks must tolerate.

Runs bench/evidence/champion_noise.yaml (the default LoRA recipe trained with seeds 0, 1 and
2; adapters and scores come from the caches when present), then, for every pair of adapters
and for each adapter against the base, prints per suite and capability: items, discordant
items (correct in one, wrong in the other), the standard error s of the paired mean
difference, the smallest margin a harmless successor clears 1 - alpha of the time
(2 z(1-alpha) s, as docs/gates.md sizes the other margins) and the chance that the policy's
margin fails a successor that is truly no worse (``harness.stats.null_failure_rate``).

    python bench/evidence/champion_noise.py [EXPERIMENT]
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from rich.console import Console
    from scipy import stats

    from harness.config import load_experiment
    from harness.gates import paired_arrays
    from harness.pipeline import run_gate
    from harness.stats import null_failure_rate

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_suffix(".yaml")
    exp = load_experiment(path)
    t0 = time.perf_counter()
    result = run_gate(exp, console=Console(stderr=True))
    elapsed = time.perf_counter() - t0
    res, policy = result.results, exp.gate
    z = float(stats.norm.ppf(1 - policy.alpha))
    names = [c.name for c in exp.candidates]
    pairs = [*itertools.combinations(names, 2), *(("base", n) for n in names)]
    print(f"gate run {elapsed:.0f} s; alpha {policy.alpha}")
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


if __name__ == "__main__":
    main()
