"""YAML reading that reports the file on every failure, and refuses hostile YAML.

``ConfigLoader`` is PyYAML's SafeLoader plus two checks on the composed node graph, run
before any Python value is constructed:

- aliases are bounded: expanding every alias may add at most ``MAX_EXPANDED_NODES`` values
  to the document as written, and no alias may refer to a node that contains it (a cycle).
  Nine nested anchors of nine references each expand to 387 million values; refusing them
  here costs microseconds, whereas printing or validating them once took minutes and gigabytes;
- a key written twice in one mapping is refused with both line numbers (PyYAML keeps the last
  one silently). Keys merged in with ``<<: *anchor`` may be overridden, as YAML intends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.config._errors import ConfigError, shorten

# Far above any config or suite YAML we know of (the largest shipped one has a few hundred).
MAX_EXPANDED_NODES = 20_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlShapeError(yaml.YAMLError):
    """A document refused by ``ConfigLoader``'s checks (aliases, duplicate keys)."""

    def __init__(self, field: str | None, problem: str, fix: str) -> None:
        self.field, self.problem, self.fix = field, problem, fix
        super().__init__(problem)


def _key_text(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return shorten(str(node.value), 60)
    return "<mapping>" if isinstance(node, MappingNode) else "<sequence>"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _expanded_sizes(root: Node) -> dict[int, int]:
    """Node count of every node with aliases expanded (memoised per node, so linear time)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node, path: str) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlShapeError(
                path or None,
                f"a YAML alias refers to a collection that contains it (line "
                f"{node.start_mark.line + 1}): the value would be infinite",
                "remove the recursive anchor/alias (&name ... *name inside itself)",
            )
        active.add(key)
        n = 1
        if isinstance(node, SequenceNode):
            for i, child in enumerate(node.value):
                n += size(child, _join(path, str(i)))
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                n += size(k, path) + size(v, _join(path, _key_text(k)))
        active.discard(key)
        sizes[key] = n
        return n

    size(root, "")
    return sizes


def _walk(root: Node, sizes: dict[int, int]) -> None:
    """Refuse duplicate keys (both lines) and report where an over-large expansion comes from."""
    seen: set[int] = set()
    biggest_alias: tuple[int, str, int] | None = None  # (expanded size, field, line)
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            # A second path to an already visited collection: that is an alias use.
            if isinstance(node, (SequenceNode, MappingNode)):
                n = sizes[id(node)]
                if biggest_alias is None or n > biggest_alias[0]:
                    biggest_alias = (n, path, node.start_mark.line + 1)
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            children = [(c, _join(path, str(i))) for i, c in enumerate(node.value)]
            stack.extend(reversed(children))  # document order: an anchor before its aliases
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], str] = {}
            pairs: list[tuple[Node, str]] = []
            for k, v in node.value:
                if k.tag != _MERGE_TAG and isinstance(k, ScalarNode):
                    ident = (k.tag, k.value)
                    mark = k.start_mark
                    line = f"{mark.line + 1}" + (
                        f", column {mark.column + 1}" if node.flow_style else ""
                    )
                    if ident in first:
                        field = _join(path, _key_text(k))
                        raise YamlShapeError(
                            field,
                            f"key '{_key_text(k)}' is written twice in one mapping, at line "
                            f"{first[ident]} and at line {line} (YAML would silently keep "
                            "only the last)",
                            f"keep one '{_key_text(k)}' (merge the two blocks into one)",
                        )
                    first[ident] = line
                pairs.append((v, _join(path, _key_text(k))))
            stack.extend(reversed(pairs))
    total = sizes[id(root)]
    # Only what aliases add counts: a long document written out is not an attack.
    written = len(sizes)  # distinct nodes, keys included
    if total - written > MAX_EXPANDED_NODES:
        where_field: str | None = None
        where = ""
        if biggest_alias is not None:
            where_field = biggest_alias[1] or None
            where = (
                f" (the largest is used at '{where_field}', its anchor at line {biggest_alias[2]})"
            )
        raise YamlShapeError(
            where_field,
            f"YAML aliases expand this document to {total:,} values from {written:,} "
            f"written, {total - written:,} more, over the limit of {MAX_EXPANDED_NODES:,}"
            f"{where}; nested anchors multiply (a 'billion laughs' file)",
            "write the values out, or use fewer nested anchors/aliases (*name)",
        )


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader that bounds alias expansion and refuses duplicate keys, before constructing."""

    def compose_document(self) -> Node:
        node: Node | None = super().compose_document()
        if node is not None:
            _walk(node, _expanded_sizes(node))
        return node  # type: ignore[return-value]


def parse_yaml(text: str, path: Path, loader: type[ConfigLoader] = ConfigLoader) -> Any:
    """Parse ``text`` (read from ``path``) with ``loader``; every failure is a ConfigError."""
    try:
        return yaml.load(text, Loader=loader)
    except YamlShapeError as exc:
        raise ConfigError(path, exc.field, exc.problem, exc.fix) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            path, None, f"invalid YAML{line}: {shorten(str(exc), 600)}", "fix the YAML syntax"
        ) from exc
    except (ValueError, RecursionError) as exc:
        # PyYAML builds dates and deep nesting itself: 2001-02-30 raises ValueError there.
        raise ConfigError(
            path,
            None,
            f"unreadable YAML value: {shorten(str(exc))}",
            "quote dates and other special values; avoid deep nesting",
        ) from exc


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping, or raise a ConfigError naming it."""
    if not path.exists():
        raise ConfigError(
            path, None, f"{what} file does not exist", f"check the path to the {what}"
        )
    if path.is_dir():
        raise ConfigError(path, None, f"{what} path is a directory", directory_hint(path, what))
    if not path.is_file():
        raise ConfigError(path, None, f"{what} path is not a file", f"point at a {what} YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            None,
            f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
            "save the file as UTF-8",
        ) from exc
    data = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise ConfigError(
            path,
            None,
            f"expected a mapping at the top level, got {type(data).__name__}",
            f"write the {what} as 'key: value' pairs",
        )
    return data


def directory_hint(directory: Path, what: str) -> str:
    """A fix for a path that names a directory: point at the YAML files inside it."""
    try:
        found = sorted(p.name for p in directory.glob("*.yaml") if p.is_file())[:5]
    except OSError:
        found = []
    if found:
        return f"point at the {what} YAML inside it, e.g. {directory / found[0]}" + (
            f" (it holds {', '.join(found)})" if len(found) > 1 else ""
        )
    return f"point at a {what} YAML file, not a directory (this one holds no *.yaml)"
