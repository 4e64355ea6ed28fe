"""Planted-effect self-test of the gate: false NO-GO rate under the null, detection at the MDE.

Simulates a general suite shaped like the built-in one (6 capabilities x 250 items, base
accuracies as SmolLM2-135M scores them) and runs the real gate code (build_checks, Holm,
decide) with the embedded default policy:

- null: the candidate flips items in both directions at equal expected counts, so its true
  change is 0 — the gate must say NO-GO at most alpha of the time;
- planted: one capability loses exactly the detectable effect that gate reports for it — the
  gate must say NO-GO at least 80% of the time.

    python bench/validity/planted_effect.py [--reps 200] [--resamples 10000]
    python bench/validity/planted_effect.py --tiny    (smoke: 4 replications, 1,000 resamples)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.config import ItemResult, SuiteSpec, load_experiment  # noqa: E402
from harness.gates import build_checks, decide  # noqa: E402

CAPS = {
    "arithmetic": 0.34,
    "commonsense": 0.68,
    "factual_recall": 0.63,
    "instruction_following": 0.15,
    "language": 0.53,
    "logic": 0.34,
}
PER_CAP = 250
DISCORDANCE = 0.25  # share of items whose correctness changes: 0.246 for the real default LoRA
SUITE = SuiteSpec(
    name="general",
    path=Path("general.yaml"),
    kind="general",
    version="2",
    output_type="multiple_choice",
    metric="acc",
    capability=None,
    capability_field="capability",
    data_files={},
    fingerprint="sim",
)


def _baseline(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    correct, caps = [], []
    for cap, p in CAPS.items():
        correct.append((rng.random(PER_CAP) < p).astype(float))
        caps += [cap] * PER_CAP
    return np.concatenate(correct), caps


def _candidate(
    rng: np.random.Generator, base: np.ndarray, caps: list[str], drop: dict[str, float]
) -> np.ndarray:
    """Flip items so that each capability's expected change is -drop[cap] (0 by default)."""
    cand = base.copy()
    for cap in CAPS:
        idx = np.array([i for i, c in enumerate(caps) if c == cap])
        b = base[idx]
        p = b.mean()
        d = drop.get(cap, 0.0)
        # p*f1 - (1-p)*f0 = d (net loss), p*f1 + (1-p)*f0 = DISCORDANCE (items that change)
        f1 = min(1.0, (DISCORDANCE + d) / (2 * p))
        f0 = min(1.0, max(0.0, (DISCORDANCE - d) / (2 * (1 - p))))
        u = rng.random(len(idx))
        flip = np.where(b == 1.0, u < f1, u < f0)
        cand[idx] = np.where(flip, 1.0 - b, b)
    return cand


def _items(values: np.ndarray, caps: list[str]) -> list[ItemResult]:
    return [ItemResult(f"g{i}", {"acc": float(v)}, caps[i]) for i, v in enumerate(values)]


def _verdict(policy, base, cand, caps):  # type: ignore[no-untyped-def]
    checks = build_checks(
        policy, [SUITE], {"general": _items(base, caps)}, {"lora": {"general": _items(cand, caps)}}
    )
    return decide(checks), checks


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--reps", type=int, default=None, help="default 200 (tiny 4)")
    ap.add_argument("--resamples", type=int, default=None, help="default 10,000 (tiny 1,000)")
    ap.add_argument("--tiny", action="store_true", help="smoke: the figures mean nothing")
    ap.add_argument("--capability", default="factual_recall")
    ap.add_argument("--forgetting-margin", type=float, default=None)
    ap.add_argument("--capability-margin", type=float, default=None)
    args = ap.parse_args()
    args.reps = args.reps or (4 if args.tiny else 200)
    args.resamples = args.resamples or (1000 if args.tiny else 10_000)
    exp = load_experiment(ROOT / "experiment.yaml")
    update: dict[str, object] = {"bootstrap_resamples": args.resamples, "require_change": False}
    if args.forgetting_margin is not None:
        update["forgetting_margin"] = args.forgetting_margin
    if args.capability_margin is not None:
        update["capability_margin"] = args.capability_margin
    policy = exp.gate.model_copy(update=update)
    t0 = time.perf_counter()

    # The detectable effect the gate reports for the capability, on a null pilot.
    rng = np.random.default_rng(12345)
    base, caps = _baseline(rng)
    _, pilot = _verdict(policy, base, _candidate(rng, base, caps, {}), caps)
    mde = next(c.mde for c in pilot if c.capability == args.capability)
    assert mde is not None

    null_nogo = planted_nogo = 0
    for rep in range(args.reps):
        rng = np.random.default_rng(rep)
        base, caps = _baseline(rng)
        out, _ = _verdict(policy, base, _candidate(rng, base, caps, {}), caps)
        null_nogo += out.verdict == "NO-GO"
        out, _ = _verdict(policy, base, _candidate(rng, base, caps, {args.capability: mde}), caps)
        planted_nogo += out.verdict == "NO-GO"
    elapsed = time.perf_counter() - t0
    print("| figure | result |")
    print("| --- | --- |")
    print(
        f"| policy | alpha {policy.alpha}, forgetting_margin {policy.forgetting_margin}, "
        f"capability_margin {policy.capability_margin}, Holm across 7 checks, "
        f"{policy.bootstrap_resamples} resamples |"
    )
    print(f"| null replications (true change 0, {DISCORDANCE:.0%} of items flip) | {args.reps} |")
    print(
        f"| false NO-GO rate | {null_nogo / args.reps:.3f} ({null_nogo}/{args.reps}) "
        f"{'<=' if null_nogo / args.reps <= policy.alpha else '>'} alpha {policy.alpha} |"
    )
    print(f"| reported detectable drop for {args.capability} | {mde:.3f} |")
    print(
        f"| detection rate with that drop planted | {planted_nogo / args.reps:.3f} "
        f"({planted_nogo}/{args.reps}) {'>=' if planted_nogo / args.reps >= 0.8 else '<'} 0.8 |"
    )
    print(f"\n({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
