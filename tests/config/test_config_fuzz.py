"""Fuzz the config loaders: whatever a file holds, they either succeed or raise ConfigError."""

from __future__ import annotations

import math
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


def _check(loader: Callable[[Path], Any], path: Path) -> None:
    try:
        loader(path)
    except ConfigError as exc:
        assert exc.problem and exc.fix
    except Exception as exc:
        if not any(isinstance(exc, t) and m in str(exc) for t, m in KNOWN_BUGS):
            raise


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
