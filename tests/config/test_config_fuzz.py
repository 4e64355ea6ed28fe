"""Fuzz the config loaders: whatever a file holds, they either succeed or raise ConfigError."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from harness.config import ConfigError, load_experiment, load_recipe, load_suite
from tests.conftest import write_tiny_experiment

# No shrink phase: on this suite's inputs shrinking a failure can take minutes; the failing
# example is printed as found.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)

# Loader bugs this fuzzing found (each now fixed, pinned by ``test_former_loader_bug``). A new
# bug found by the fuzz tests gets a case in _BUGS and must raise ConfigError once fixed.
KNOWN_BUGS: list[tuple[type[BaseException], str]] = []

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 0.5, 1e300]),
    _text,
    st.sampled_from(["", "..", "../../etc/passwd", "/", "builtin:x", "~", "train.jsonl"]),
)
_keys = st.one_of(
    _text,
    st.sampled_from(["name", "base", "suites", "candidates", "include", "metadata", "task"]),
    st.integers(-3, 3),
    st.booleans(),
)
values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    model_dir = root / "model"
    model_dir.mkdir()
    write_tiny_experiment(root / "p", model_dir)
    return root / "p"


def _valid(path: Path) -> dict[str, Any]:
    from harness.config._suite import _TolerantLoader

    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TolerantLoader)
    assert isinstance(data, dict)
    return data


def _mutate(data: Any, draw: Callable[..., Any], depth: int = 0) -> Any:
    """Drop keys, replace values by random ones (wrong types), add extra keys, recursively."""
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for k, v in data.items():
            op = draw(st.sampled_from(["keep", "keep", "drop", "replace", "recurse"]))
            if op == "keep":
                out[k] = v
            elif op == "replace":
                out[k] = draw(values)
            elif op == "recurse":
                out[k] = _mutate(v, draw, depth + 1)
        for _ in range(draw(st.integers(0, 2))):
            out[draw(_keys)] = draw(values)
        return out
    if isinstance(data, list) and data:
        items = [_mutate(v, draw, depth + 1) for v in data]
        if draw(st.booleans()):
            items.append(draw(values))
        return items
    return draw(values) if draw(st.booleans()) else data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# Every case must finish (success or ConfigError) within this many seconds of loader time.
CASE_SECONDS = 3.0


def _check(loader: Callable[[Path], Any], path: Path) -> None:
    t0 = time.perf_counter()
    try:
        loader(path)
    except ConfigError as exc:
        assert exc.file and exc.problem and exc.fix
        assert len(exc.render()) < 12_000, "an echoed value was not shortened"
    except Exception as exc:
        if not any(isinstance(exc, t) and m in str(exc) for t, m in KNOWN_BUGS):
            raise
    assert time.perf_counter() - t0 < CASE_SECONDS, f"{path.name} took too long"


_LOADERS: dict[str, tuple[Callable[[Path], Any], str]] = {
    "experiment": (load_experiment, "experiment.yaml"),
    "recipe": (load_recipe, "training/lora.yaml"),
    "suite": (load_suite, "suites/tickets/tickets.yaml"),
}


def _target(project: Path, kind: str) -> tuple[Callable[[Path], Any], Path, Path]:
    loader, valid = _LOADERS[kind]
    src = project / valid
    return loader, src, src.with_name("fuzz.yaml")


@pytest.mark.parametrize("kind", sorted(_LOADERS))
@FUZZ
@given(data=st.data())
def test_mutated_valid_files_raise_only_config_errors(
    project: Path, kind: str, data: st.DataObject
) -> None:
    loader, src, dst = _target(project, kind)
    dst.write_text(_dump(_mutate(_valid(src), data.draw)), encoding="utf-8")
    _check(loader, dst)


@pytest.mark.parametrize("kind", sorted(_LOADERS))
@FUZZ
@given(doc=values)
def test_random_structures_raise_only_config_errors(project: Path, kind: str, doc: Any) -> None:
    loader, _, dst = _target(project, kind)
    dst.write_text(_dump(doc), encoding="utf-8")
    _check(loader, dst)


@pytest.mark.parametrize("kind", sorted(_LOADERS))
@FUZZ
@given(content=st.one_of(st.binary(max_size=200), _text.map(lambda t: t.encode("utf-8"))))
@example(content=b"\xff\xfename: x\n")
@example(content=b"\x00")
def test_random_bytes_raise_only_config_errors(project: Path, kind: str, content: bytes) -> None:
    loader, _, dst = _target(project, kind)
    dst.write_bytes(content)
    _check(loader, dst)


_BASE_SUITE = {
    "task": "x",
    "dataset_path": "json",
    "dataset_kwargs": {"data_files": {"test": "train.jsonl"}},
    "metric_list": [{"metric": "acc"}],
    "metadata": {"version": 1, "kind": "task"},
}
_LONG = "a" * 300


def _suite(**changes: Any) -> str:
    return _dump({**_BASE_SUITE, **changes})


def _exp(**changes: Any) -> str:
    return _dump(
        {
            "name": "e",
            "suites": ["suites/tickets/tickets.yaml"],
            "candidates": [{"name": "a", "recipe": "training/lora.yaml"}],
            **changes,
        }
    )


def _recipe(suite: str) -> str:
    return _dump({"name": "r", "data": {"suite": suite}})


_BUGS: list[tuple[str, str, str, str]] = [
    # (id, loader, file content, where it escapes)
    (
        "suite-metric_list-mapping",
        "suite",
        _suite(metric_list={"metric": "acc"}),
        "KeyError: 0 at _suite.py load_suite: metrics[0] on a dict",
    ),
    (
        "suite-metric_list-int",
        "suite",
        _suite(metric_list=5),
        "TypeError: 'int' object is not subscriptable at _suite.py load_suite: metrics[0]",
    ),
    (
        "suite-dataset_path-list",
        "suite",
        _suite(dataset_path=["json"]),
        "TypeError: unhashable type: 'list' at _suite.py _resolve_data_files: "
        "builder not in _LOCAL_BUILDERS",
    ),
    (
        "suite-data_file-nul",
        "suite",
        _suite(dataset_kwargs={"data_files": {"test": "d\x00.jsonl"}}),
        "ValueError: embedded null byte at _suite.py _resolve_data_files: .resolve()",
    ),
    (
        "suite-include-nul",
        "suite",
        _suite(include="a\x00b.yaml"),
        "ValueError: embedded null byte at _suite.py _load_with_includes: inc_path.resolve()",
    ),
    (
        "suite-data_file-too-long",
        "suite",
        _suite(dataset_kwargs={"data_files": {"test": _LONG}}),
        "OSError: [Errno 36] File name too long at _suite.py _resolve_data_files: p.is_file()",
    ),
    (
        "suite-include-too-long",
        "suite",
        _suite(include=[{"k": _LONG}]),
        "OSError: [Errno 36] File name too long at _suite.py _load_with_includes: "
        "path.is_file() (a non-string include is str()-ed into a path)",
    ),
    (
        "suite-bad-timestamp",
        "suite",
        "task: x\nd: 2001-02-30\n",
        "ValueError: day is out of range for month at _suite.py _load_with_includes: yaml.load "
        "(only YAMLError is caught)",
    ),
    (
        "suite-deep-nesting",
        "suite",
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "RecursionError at _suite.py _load_with_includes: yaml.load",
    ),
    (
        "experiment-bad-timestamp",
        "experiment",
        "name: x\nd: 2001-02-30\n",
        "ValueError: day is out of range for month at _yaml.py read_yaml_mapping: yaml.safe_load",
    ),
    (
        "experiment-suite-nul",
        "experiment",
        _exp(suites=["a\x00b.yaml"]),
        "ValueError: embedded null byte at _experiment.py _resolve: .resolve()",
    ),
    (
        "experiment-suite-too-long",
        "experiment",
        _exp(suites=[_LONG]),
        "OSError: [Errno 36] File name too long at _experiment.py load_experiment: sp.exists()",
    ),
    (
        "recipe-bad-timestamp",
        "recipe",
        "name: x\nd: 2001-02-30\n",
        "ValueError: day is out of range for month at _yaml.py read_yaml_mapping: yaml.safe_load",
    ),
    (
        "recipe-suite-nul",
        "recipe",
        _recipe("a\x00b.yaml"),
        "ValueError: embedded null byte at _recipe.py load_recipe: suite.resolve()",
    ),
    (
        "recipe-suite-too-long",
        "recipe",
        _recipe(_LONG),
        "OSError: [Errno 36] File name too long at _recipe.py load_recipe: suite.exists()",
    ),
]


@pytest.mark.parametrize(
    ("kind", "content"),
    [pytest.param(kind, content, id=bug_id) for bug_id, kind, content, _where in _BUGS],
)
def test_former_loader_bug(project: Path, kind: str, content: str) -> None:
    """Inputs that once escaped as other exceptions now give a ConfigError naming the file."""
    loader, _, dst = _target(project, kind)
    dst.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        loader(dst)
    assert e.value.file and e.value.fix


# --- hostile YAML text: anchors, aliases and repeated keys (issue #18) -------------------------

_names = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def _aliased_yaml(draw: st.DrawFn, valid: str) -> str:
    """A valid file with anchors of nested aliases in front and aliases or repeated keys spliced
    into its lines: billion-laughs shapes, recursive anchors, undefined aliases, duplicates."""
    levels = draw(st.integers(0, 9))
    width = draw(st.integers(1, 9))
    head = [f"x0: &x0 [{', '.join(['lol'] * width)}]"]
    head += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    if draw(st.booleans()):
        head.append("r: &r [1, *r]")  # a recursive alias (refused, or an undefined one)
    lines = valid.splitlines()
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(lines)))
        choice = draw(st.sampled_from(["alias", "duplicate", "merge", "undefined"]))
        if choice == "alias" and i < len(lines) and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: *x{draw(st.integers(0, levels))}"
        elif choice == "duplicate" and lines:
            lines.insert(i, lines[draw(st.integers(0, len(lines) - 1))])
        elif choice == "merge":
            lines.insert(i, f"m{i}: {{<<: *x{levels}}}")
        elif choice == "undefined":
            lines.insert(i, f"u{i}: *{draw(_names)}")
    return "\n".join(head + lines) + "\n"


@pytest.mark.parametrize("kind", sorted(_LOADERS))
@FUZZ
@given(data=st.data())
def test_aliases_and_repeated_keys_raise_only_config_errors(
    project: Path, kind: str, data: st.DataObject
) -> None:
    loader, src, dst = _target(project, kind)
    dst.write_text(data.draw(_aliased_yaml(src.read_text(encoding="utf-8"))), encoding="utf-8")
    _check(loader, dst)


# --- given adapters: adapter_config.json and the safetensors header, checked without a model ---


@pytest.fixture(scope="module")
def adapter_project(project: Path) -> Path:
    from tests.config.adapter_files import write_stand_in_lora

    model = project.parent / "model"
    (model / "config.json").write_text(
        json.dumps({"model_type": "llama", "num_hidden_layers": 2}), encoding="utf-8"
    )
    write_stand_in_lora(project / "given", targets=("q_proj", "v_proj"))
    exp = project / "experiment-given.yaml"
    text = (project / "experiment.yaml").read_text(encoding="utf-8")
    exp.write_text(
        text.replace("candidates:\n", "candidates:\n  - name: given\n    adapter: given\n"),
        encoding="utf-8",
    )
    return exp


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=12,
)
_ADAPTER_KEYS = ["peft_type", "r", "target_modules", "base_model_name_or_path", "lora_alpha"]


@FUZZ
@given(
    changes=st.dictionaries(st.sampled_from(_ADAPTER_KEYS), _json_values, max_size=3),
    cut=st.one_of(st.none(), st.integers(0, 400)),
    flip=st.one_of(st.none(), st.tuples(st.integers(0, 400), st.integers(0, 255))),
)
# found by this test: a TypeError sorting a target list with None in it
@example(changes={"target_modules": ["x", None, -2]}, cut=None, flip=None)
@example(changes={}, cut=0, flip=None)  # an empty adapter_model.safetensors
def test_mutated_given_adapters_raise_only_config_errors(
    adapter_project: Path,
    changes: dict[str, Any],
    cut: int | None,
    flip: tuple[int, int] | None,
) -> None:
    from tests.config.adapter_files import write_stand_in_lora

    ad = write_stand_in_lora(adapter_project.parent / "given", targets=("q_proj", "v_proj"))
    cfg = json.loads((ad / "adapter_config.json").read_text(encoding="utf-8"))
    (ad / "adapter_config.json").write_text(json.dumps({**cfg, **changes}), encoding="utf-8")
    w = ad / "adapter_model.safetensors"
    raw = bytearray(w.read_bytes())
    if flip is not None and flip[0] < len(raw):
        raw[flip[0]] = flip[1]
    w.write_bytes(bytes(raw if cut is None else raw[:cut]))
    _check(load_experiment, adapter_project)


# --- the command line: exit 0 or 2, never a traceback ------------------------------------------


@pytest.mark.parametrize("kind", sorted(_LOADERS))
@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_cli_validate_exits_0_or_2(project: Path, kind: str, data: st.DataObject) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    _, src, _ = _target(project, kind)
    original = src.read_text(encoding="utf-8")
    try:
        src.write_text(_dump(_mutate(_valid(src), data.draw)), encoding="utf-8")
        result = CliRunner().invoke(app, ["validate", str(project / "experiment.yaml")])
    finally:
        src.write_text(original, encoding="utf-8")
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert "Traceback" not in result.output
