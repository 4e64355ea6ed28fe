"""Generation, rolling-loglikelihood and BBH-style suites: per-item parity with lm-eval's HFLM.

Every suite here is written by the test (nothing copied from BBH): a BBH-format JSON file
(``{"examples": [{"input", "target"}]}``) read through ``dataset_kwargs.field``, scored once by
generation with answer extraction and once as multiple choice; a free-text generation suite
scored with ROUGE/BLEU/chrF; and a perplexity suite. In fp32 on the tiny model, run_suite must
give HFLM's per-item predictions exactly and its log-likelihoods within 1e-4.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.config import ScoringSettings, load_suite
from harness.engine import HarnessLM, build_task, run_suite

OBJECTS = ["blue book", "red ball", "green cup", "white box", "black pen", "yellow hat"]
LETTERS = ["(A)", "(B)", "(C)"]


def bbh_examples(n: int = 12) -> list[dict[str, str]]:
    """BBH-style three-option ordering puzzles, made up here."""
    rng = random.Random(3)
    rows = []
    for _ in range(n):
        objs = rng.sample(OBJECTS, 3)
        answer = rng.randrange(3)
        opts = "\n".join(f"{LETTERS[i]} The {o} is in the middle" for i, o in enumerate(objs))
        text = (
            f"On a shelf there are three objects: a {objs[0]}, a {objs[1]} and a {objs[2]}. "
            f"The {objs[answer]} is between the other two.\nOptions:\n{opts}"
        )
        rows.append({"input": text, "target": LETTERS[answer]})
    return rows


BBH_GEN_YAML = r"""task: bbh_style_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: shelf.json
  field: examples
test_split: test
output_type: generate_until
doc_to_text: "Q: {{input}}\nA: The answer is"
doc_to_target: "{{target}}"
generation_kwargs:
  until: ["\n\n", "Q:"]
  max_gen_toks: 8
  do_sample: false
filter_list:
  - name: first-word
    filter:
      - function: regex
        regex_pattern: "(\\w+)"
      - function: take_first
  - name: strict
    filter:
      - function: regex
        regex_pattern: "\\([A-C]\\)"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
metadata:
  version: 1.0
  kind: task
  capability: shelf
  primary_metric: exact_match,strict
"""

BBH_MC_YAML = """task: bbh_style_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: shelf.json
  field: examples
test_split: test
output_type: multiple_choice
doc_to_text: "Q: {{input}}\\nA: The answer is"
doc_to_choice: ["(A)", "(B)", "(C)"]
doc_to_target: "{{target}}"
metric_list:
  - metric: acc
  - metric: acc_norm
metadata:
  version: 1.0
  kind: task
  capability: shelf
"""

FREE_TEXT = [
    ("my parcel has not arrived", "the delivery is late"),
    ("I cannot log in", "my account is locked"),
    ("I was charged twice", "please refund my payment"),
    ("reset my password please", "I cannot log in"),
    ("tracking shows nothing", "my parcel has not arrived"),
    ("my invoice is wrong", "I was charged twice"),
]

GEN_YAML = r"""task: rewrite_tiny
dataset_path: json
dataset_kwargs:
  data_files:
    test: test.jsonl
test_split: test
output_type: generate_until
doc_to_text: "Ticket: {{source}}\nRewrite:"
doc_to_target: "{{target}}"
target_delimiter: " "
generation_kwargs:
  until: ["\n"]
  max_gen_toks: 10
metric_list:
  - metric: harness_rougeL
    aggregation: mean
    higher_is_better: true
  - metric: harness_rouge1
  - metric: harness_bleu
  - metric: harness_chrf
  - metric: bleu
metadata:
  version: 1.0
  kind: task
  capability: rewrite
"""

ROLLING_YAML = """task: ppl_tiny
dataset_path: json
dataset_kwargs:
  data_files:
    test: test.jsonl
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{text}}"
metric_list:
  - metric: bits_per_byte
  - metric: word_perplexity
  - metric: byte_perplexity
metadata:
  version: 1.0
  kind: general
  capability_field: topic
"""


def _write(d: Path, name: str, yaml_text: str, data: dict[str, str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for fname, text in data.items():
        (d / fname).write_text(text, encoding="utf-8")
    (d / name).write_text(yaml_text, encoding="utf-8")
    return d / name


def write_bbh_style(root: Path) -> tuple[Path, Path]:
    data = {"shelf.json": json.dumps({"canary": "made up", "examples": bbh_examples()}, indent=1)}
    return (
        _write(root / "bbh_gen", "gen.yaml", BBH_GEN_YAML, data),
        _write(root / "bbh_mc", "mc.yaml", BBH_MC_YAML, data),
    )


def write_generation(root: Path) -> Path:
    rows = [{"id": f"r{i}", "source": s, "target": t} for i, (s, t) in enumerate(FREE_TEXT)]
    jsonl = "".join(json.dumps(r) + "\n" for r in rows)
    return _write(root / "rewrite", "rewrite.yaml", GEN_YAML, {"test.jsonl": jsonl})


def write_rolling(root: Path) -> Path:
    rng = random.Random(5)
    words = [
        "the",
        "delivery",
        "is",
        "late",
        "my",
        "parcel",
        "has",
        "not",
        "arrived",
        "tracking",
        "shows",
        "nothing",
    ]
    rows = [
        {"id": f"p{i}", "topic": "short" if i < 4 else "long", "text": " ".join(ws)}
        for i, ws in enumerate(
            [rng.choices(words, k=rng.randint(3, 12)) for _ in range(4)]
            + [rng.choices(words, k=200)]  # longer than the tiny model's 256 tokens
        )
    ]
    jsonl = "".join(json.dumps(r) + "\n" for r in rows)
    return _write(root / "ppl", "ppl.yaml", ROLLING_YAML, {"test.jsonl": jsonl})


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))


def _both(tiny: tuple[Any, Any], path: Path) -> tuple[Any, list[Any], list[dict[str, Any]]]:
    """Our per-item results and HFLM's logged samples (first filter) for one suite."""
    from lm_eval.evaluator import evaluate
    from lm_eval.models.huggingface import HFLM

    model, tok = tiny
    suite = load_suite(path)
    ours = run_suite(
        HarnessLM(model, tok, batch_size=4, show_progress=False), suite, ScoringSettings()
    )
    # logits_cache=False: see test_lm_methods.test_rolling_loglikelihood_matches_hflm.
    hflm = HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=4, logits_cache=False)
    ref = evaluate(
        lm=hflm,
        task_dict={suite.name: build_task(suite)},
        bootstrap_iters=0,
        log_samples=True,
        verbosity="ERROR",
    )
    samples = ref["samples"][suite.name]
    return suite, ours, samples


def _by_filter(samples: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        out.setdefault(s["filter"], []).append(s)
    return {k: sorted(v, key=lambda s: s["doc_id"]) for k, v in out.items()}


def test_bbh_style_generation_with_extraction_matches_hflm(
    tiny: tuple[Any, Any], tmp_path: Path
) -> None:
    gen, _ = write_bbh_style(tmp_path)
    suite, ours, samples = _both(tiny, gen)
    assert suite.metric == "exact_match,strict" and suite.higher_is_better
    ref = _by_filter(samples)
    assert list(ref) == ["first-word", "strict"] and len(ours) == 12
    for i, item in enumerate(ours):
        first, strict = ref["first-word"][i], ref["strict"][i]
        assert item.item_id == str(i)
        assert item.prediction == first["filtered_resps"][0]  # first filter's extraction
        assert item.extra["filtered"] == {
            "first-word": first["filtered_resps"][0],
            "strict": strict["filtered_resps"][0],
        }
        raw = first["resps"][0][0]
        assert item.extra.get("response", item.prediction) == raw
        assert item.scores["exact_match"] == first["exact_match"]
        assert item.scores["exact_match,first-word"] == first["exact_match"]
        assert item.scores["exact_match,strict"] == strict["exact_match"]
        assert item.target == first["target"]
    assert any(it.prediction not in ("", "[invalid]") for it in ours)


def test_bbh_style_multiple_choice_matches_hflm(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    _, mc = write_bbh_style(tmp_path)
    _, ours, samples = _both(tiny, mc)
    ref = sorted(samples, key=lambda s: s["doc_id"])
    assert len(ours) == len(ref) == 12
    for item, s in zip(ours, ref, strict=True):
        lls = [float(r[0]) for r in s["filtered_resps"]]
        assert item.extra["loglikelihoods"] == pytest.approx(lls, abs=1e-4)
        assert item.prediction == max(range(3), key=lambda k: lls[k])
        assert item.scores == {"acc": s["acc"], "acc_norm": s["acc_norm"]}
        assert s["target"] == item.target == bbh_examples()[int(item.item_id)]["target"]


def test_free_text_generation_scores_match_hflm(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    import sacrebleu
    from rouge_score import rouge_scorer

    suite, ours, samples = _both(tiny, write_generation(tmp_path))
    assert suite.metric == "harness_rougeL"
    ref = sorted(samples, key=lambda s: s["doc_id"])
    scorer = rouge_scorer.RougeScorer(["rougeL", "rouge1"])
    for item, s in zip(ours, ref, strict=True):
        pred = s["filtered_resps"][0]
        assert item.prediction == pred
        for name in ("harness_rougeL", "harness_rouge1", "harness_bleu", "harness_chrf"):
            assert item.scores[name] == s[name]
        rouge = scorer.score(s["target"], pred)
        assert item.scores["harness_rougeL"] == rouge["rougeL"].fmeasure
        assert item.scores["harness_rouge1"] == rouge["rouge1"].fmeasure
        # lm-eval's own ``bleu`` is a corpus metric; per item it becomes sentence BLEU.
        want = sacrebleu.sentence_bleu(pred, [s["target"]]).score
        assert item.scores["bleu"] == item.scores["harness_bleu"] == want
        assert item.scores["harness_chrf"] == sacrebleu.sentence_chrf(pred, [s["target"]]).score


def test_rolling_perplexity_suite_matches_hflm(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    from lm_eval.api.metrics import bits_per_byte, weighted_perplexity

    suite, ours, samples = _both(tiny, write_rolling(tmp_path))
    assert suite.metric == "bits_per_byte" and suite.higher_is_better is False
    ref = sorted(samples, key=lambda s: s["doc_id"])
    for item, s in zip(ours, ref, strict=True):
        ll, n_bytes = s["bits_per_byte"]
        assert item.extra["loglikelihoods"] == pytest.approx([ll], abs=1e-4)
        assert item.prediction is None
        ours_ll = item.extra["loglikelihoods"][0]
        assert item.scores["bits_per_byte"] == pytest.approx(
            -ours_ll / n_bytes / math.log(2), rel=1e-9
        )
        assert item.scores["bits_per_byte"] == pytest.approx(bits_per_byte([(ll, n_bytes)]))
        ll_w, words = s["word_perplexity"]
        assert item.scores["word_perplexity"] == pytest.approx(
            weighted_perplexity([(ll_w, words)]), rel=1e-5
        )
        assert item.scores["byte_perplexity"] > 1.0
    assert {it.capability for it in ours} == {"short", "long"}


def test_corpus_only_primary_metric_is_refused(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    """lm-eval's ``f1`` logs (gold, pred) pairs for a corpus F1: no per-item value to gate."""
    from harness.config import ConfigError

    _, path = write_bbh_style(tmp_path)
    text = path.read_text().replace("  - metric: acc_norm\n", "  - metric: f1\n")
    path.write_text(text.replace("metadata:\n", "metadata:\n  primary_metric: f1\n"))
    model, tok = tiny
    with pytest.raises(ConfigError) as e:
        run_suite(
            HarnessLM(model, tok, batch_size=4, show_progress=False),
            load_suite(path),
            ScoringSettings(limit=2),
        )
    assert e.value.field == "metadata.primary_metric" and "per-item" in e.value.problem
