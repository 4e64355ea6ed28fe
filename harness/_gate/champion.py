"""The champion of a gate run: found before the base loads, checked against it, scored once.

1. :func:`find_champions` (before any model loads, so a bad name or an unreachable registry
   costs seconds): for each release candidate, the champion ``champion:`` names, fetched to a
   local directory (``harness.tracking.find_champion``), or none (a first release).
2. :meth:`Champions.check_bases` (once the base is loaded): a champion recorded for another
   base stops the run (ConfigError, exit 2) unless ``champion.across_bases``.
3. :meth:`Champions.score` (after the baseline): each distinct champion is attached and
   scored through the path candidates take (``harness._gate.variants.score_as_shipped``:
   ``harness.models`` validates it against the base; an adapter that ships its own tokenizer
   or resized embeddings is scored with that tokenizer on a base load resized for it alone,
   and its VariantRecord notes say so), through the result store, as the variant
   ``champion`` (role ``champion``). Its fingerprint is built from its adapter files, the base
   and the quantisation exactly as a candidate's, so a champion that was itself gated in this
   store is never scored again, and an unchanged champion is scored once.

The checks (``not_worse_than_champion``) read :meth:`Champions.mapping`; the summary gets one
:class:`harness.report.ChampionRecord` per release candidate from :meth:`Champions.records`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.config import ConfigError, Experiment, champion_variants, decides_release

if TYPE_CHECKING:
    from harness._gate.scoring import Steps
    from harness._gate.variants import Variants
    from harness.models import LoadedBase
    from harness.report import ChampionRecord
    from harness.tracking import ChampionVersion

Source = Literal["registry", "directory", "none"]


@dataclass
class Champion:
    """What one release candidate is gated against (``variant`` None: nothing, a first
    release)."""

    candidate: str
    variant: str | None
    source: Source
    note: str
    adapter_dir: Path | None = None
    version: ChampionVersion | None = None
    base_fingerprint: str | None = None  # the base the champion was recorded for
    quantization: str | None = None  # recorded with it; None: the candidate's
    own_base: str | None = None  # set when scored on its own base (across_bases)
    fingerprint: str | None = None  # set once scored
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.version is not None:
            return self.version.describe()
        return f"adapter directory {self.adapter_dir}"


def _harness_meta(adapter_dir: Path) -> dict[str, Any]:
    """The harness's own record of a trained adapter (harness_adapter.json), if any."""
    path = adapter_dir / "harness_adapter.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _recorded_quantization(adapter_dir: Path) -> str | None:
    """The serving quantisation a harness-trained adapter implies (qlora: nf4)."""
    recipe = _harness_meta(adapter_dir).get("recipe")
    method = recipe.get("method") if isinstance(recipe, dict) else None
    if method == "qlora":
        return "nf4"
    return "none" if isinstance(method, str) else None


def find_champions(exp: Experiment, steps: Steps) -> Champions:
    """Resolve ``exp.champion`` for every release candidate (no model is loaded)."""
    from harness.models import cache_root
    from harness.tracking import CHAMPION_ALIAS, find_champion, registered_model_name

    spec = exp.champion
    names = champion_variants(spec, exp.candidates)
    release = [c.name for c in exp.candidates if decides_release(c)]
    if spec is None:
        steps.note("champion: none: every candidate is gated against the base alone")
        return Champions(exp, [])
    dest = cache_root() / "champions"
    out: list[Champion] = []
    if spec.adapter is not None:
        meta = _harness_meta(spec.adapter)
        shared = dict(
            variant=names.get(release[0]) if release else None,
            source="directory",
            note=f"gated against the champion, adapter directory {spec.adapter}",
            adapter_dir=spec.adapter,
            base_fingerprint=meta.get("base_fingerprint"),
            quantization=_recorded_quantization(spec.adapter),
        )
        out = [Champion(candidate=c, **shared) for c in release]  # type: ignore[arg-type]
    elif spec.model is not None:
        found = steps.run(
            f"Finding the champion ({spec.describe()}) in the model registry",
            lambda: find_champion(
                spec.model,  # type: ignore[arg-type]
                alias=spec.wanted_alias,
                version=spec.version,
                dest_root=dest,
                required=True,
                file=exp.source,
            ),
        )
        assert found is not None
        out = [_from_registry(c, names[c], found) for c in release]
    else:
        for cand in release:
            model = registered_model_name(exp.name, cand)

            def lookup(m: str = model) -> ChampionVersion | None:
                return find_champion(
                    m, alias=CHAMPION_ALIAS, version=None, dest_root=dest, required=False
                )

            found = steps.run(
                f"Looking up the champion of {cand} ({model}@{CHAMPION_ALIAS})", lookup
            )
            if found is None:
                note = (
                    f"first release: registered model '{model}' has no version with alias "
                    f"'{CHAMPION_ALIAS}' yet, so {cand} is gated against the base alone"
                )
                out.append(Champion(cand, None, "none", note, extra={"model": model}))
            else:
                out.append(_from_registry(cand, names[cand], found))
    for ch in out:
        steps.note(f"{ch.candidate}: {ch.note}" if ch.source != "none" else ch.note)
    return Champions(exp, out)


def _from_registry(candidate: str, variant: str, found: ChampionVersion) -> Champion:
    return Champion(
        candidate=candidate,
        variant=variant,
        source="registry",
        note=f"gated against the champion, {found.describe()}, fetched from {found.fetched_from}",
        adapter_dir=found.adapter_dir,
        version=found,
        base_fingerprint=found.base_fingerprint,
        quantization=found.quantization or _recorded_quantization(found.adapter_dir),
    )


@dataclass
class Champions:
    """The champions of one gate run (see the module docstring)."""

    exp: Experiment
    champions: list[Champion]

    def check_bases(self, base: LoadedBase) -> None:
        """Exit 2 for a champion recorded for another base (unless ``across_bases``)."""
        spec = self.exp.champion
        for ch in self.champions:
            theirs = ch.base_fingerprint
            if ch.variant is None or theirs is None or theirs == base.fingerprint:
                continue
            if spec is not None and spec.across_bases:
                ch.own_base = self._own_base(ch)
                ch.note += (
                    f"; recorded for another base (fingerprint {theirs}), so it is scored on "
                    f"its own base, {ch.own_base} (champion.across_bases)"
                )
                continue
            pin = (
                f"{{model: {ch.version.model}, version: N}}"
                if ch.version is not None
                else "{adapter: DIR}"
            )
            raise ConfigError(
                self.exp.source,
                "champion",
                f"the champion of {ch.candidate} ({ch.label}) was gated on a base with "
                f"fingerprint {theirs}, but this experiment's base ({self.exp.base.model}) "
                f"has fingerprint {base.fingerprint}: the base changed since the champion was "
                "released, and scores on two bases do not pair",
                "gate against the base alone (champion: none) until a release on this base "
                f"sets a new champion, or name a champion trained on this base (champion: {pin}"
                "), or compare across bases (champion: {across_bases: true}) to score the "
                "champion on its own base",
            )

    def _own_base(self, ch: Champion) -> str:
        """Where the champion's own base is (across_bases), or a ConfigError saying why not."""
        base = ch.version.base_model if ch.version is not None else None
        if base is None and ch.adapter_dir is not None:
            from harness.models import read_adapter_config

            recorded = read_adapter_config(ch.adapter_dir).get("base_model_name_or_path")
            base = recorded if isinstance(recorded, str) else None
        if base is None or not (base.startswith("builtin:") or Path(base).is_dir()):
            raise ConfigError(
                self.exp.source,
                "champion.across_bases",
                f"the champion of {ch.candidate} ({ch.label}) was recorded for another base, "
                f"and its own base ({base or 'not recorded'}) is not a model directory on "
                "this machine, so it cannot be scored on it",
                "put that base at the recorded path, or gate against the base alone "
                "(champion: none)",
            )
        return base

    def mapping(self) -> dict[str, str]:
        """Release candidate -> its champion variant, for the checks (``Evidence``)."""
        return {ch.candidate: ch.variant for ch in self.champions if ch.variant is not None}

    def score(self, variants: Variants, steps: Steps) -> None:
        """Attach and score each distinct champion variant (once; results via the store)."""
        cands = {c.name: c for c in self.exp.candidates}
        done: dict[str, str] = {}
        for ch in self.champions:
            if ch.variant is None or ch.adapter_dir is None:
                continue
            if ch.variant in done:
                ch.fingerprint = done[ch.variant]
                continue
            quant = ch.quantization or cands[ch.candidate].quantization or "none"
            try:
                if ch.own_base is not None:
                    fp = self._score_on_own_base(ch, quant, variants, steps)
                else:
                    fp = self._score(ch, quant, variants)
            except ConfigError as exc:
                raise ConfigError(
                    exc.file,
                    exc.field,
                    f"the champion ({ch.label}) is not a usable adapter for this base: "
                    f"{exc.problem}",
                    f"{exc.fix}; or name another champion, or set champion: none",
                ) from exc
            ch.fingerprint = done[ch.variant] = fp

    def _score(self, ch: Champion, quant: str, v: Variants) -> str:
        from harness._gate.record import variant_record

        assert ch.variant is not None and ch.adapter_dir is not None
        # Exactly as a candidate is attached and scored (Variants.candidate), so a champion
        # that was a candidate of this store has the same fingerprint and stored results.
        scored = v.score_adapter(ch.variant, ch.adapter_dir, quant)
        record = variant_record(
            ch.variant,
            "champion",
            scored.fingerprint,
            quantization=quant,
            dtype=v.base.dtype,
            adapter=str(ch.adapter_dir),
            execution=v.pool.execution(quant),
            notes=scored.notes,
        )
        v.add(record, scored.results)
        return scored.fingerprint

    def _score_on_own_base(self, ch: Champion, quant: str, v: Variants, steps: Steps) -> str:
        """across_bases: load the champion's base, check it is the recorded one, score there."""
        from harness._gate.record import variant_record
        from harness._gate.scoring import Scorer
        from harness._gate.variants import score_as_shipped
        from harness.models import attach_adapter, fingerprint_files, load_base, variant_fingerprint

        assert ch.variant is not None and ch.adapter_dir is not None and ch.own_base
        name, adapter_dir = ch.variant, ch.adapter_dir
        if quant != "none":
            raise ConfigError(
                self.exp.source,
                "champion.across_bases",
                f"the champion ({ch.label}) is served quantised ({quant}); scoring a quantised "
                "champion on its own base is not supported yet",
                "gate against the base alone (champion: none), or name a champion trained on "
                "this base",
            )
        dtype = (ch.version.dtype if ch.version is not None else None) or self.exp.base.dtype
        spec = self.exp.base.model_copy(update={"model": ch.own_base, "dtype": dtype})
        own = steps.run(f"Loading the champion's own base ({ch.own_base})", lambda: load_base(spec))
        if ch.base_fingerprint is not None and own.fingerprint != ch.base_fingerprint:
            raise ConfigError(
                self.exp.source,
                "champion.across_bases",
                f"the champion's base at {ch.own_base} has fingerprint {own.fingerprint}, not "
                f"the {ch.base_fingerprint} it was gated on: its files changed since",
                "restore that base, or gate against the base alone (champion: none)",
            )

        def attach(notes: list[str]) -> Any:
            # A load of its own already: resizing it for the champion's vocabulary is safe.
            model = attach_adapter(
                own.model,
                adapter_dir,
                name,
                base_fingerprint=own.fingerprint,
                base_tokenizer=own.tokenizer,
                notes=notes,
            )
            model.eval()
            return model

        scorer = Scorer(
            self.exp, v.scorer.steps, v.scorer.store, own.tokenizer, v.scorer.provenance
        )
        scored = score_as_shipped(
            name,
            adapter_dir,
            scorer,
            attach,
            lambda: variant_fingerprint(
                own.fingerprint, fingerprint_files(adapter_dir), quant, own.dtype
            ),
        )  # the champion's own base is dropped when this returns
        record = variant_record(
            name,
            "champion",
            scored.fingerprint,
            quantization=quant,
            dtype=dtype,
            adapter=str(adapter_dir),
            notes=scored.notes,
        )
        v.add(record, scored.results)
        return scored.fingerprint

    def records(self, results: dict[str, Any]) -> list[ChampionRecord]:
        """The summary's ``champions``: one per release candidate, with the answers that
        changed between its champion and it."""
        from harness._gate.record import plain
        from harness.report import ChampionRecord, SampleBlock, changed_samples

        out = []
        for ch in self.champions:
            samples: list[dict[str, Any]] = []
            if ch.variant is not None and ch.variant in results and ch.candidate in results:
                pair = {ch.variant: results[ch.variant], ch.candidate: results[ch.candidate]}
                samples = changed_samples(pair, self.exp.suites, baseline=ch.variant)
            ver = ch.version
            model = ver.model if ver is not None else ch.extra.get("model")
            out.append(
                ChampionRecord(
                    candidate=ch.candidate,
                    variant=ch.variant,
                    source=ch.source,
                    note=ch.note,
                    model=model,
                    version=ver.version if ver is not None else None,
                    alias=ver.alias if ver is not None else None,
                    adapter=str(ch.adapter_dir) if ch.adapter_dir is not None else None,
                    fingerprint=ch.fingerprint,
                    base_fingerprint=ch.base_fingerprint,
                    own_base=ch.own_base,
                    samples=[SampleBlock.model_validate(plain(b)) for b in samples],
                )
            )
        return out

    def registry_tags(self) -> dict[str, str]:
        """Release candidate -> what it was gated against, for its model version's tags."""
        out = {}
        for ch in self.champions:
            if ch.version is not None:
                out[ch.candidate] = f"{ch.version.model}/{ch.version.version}"
            elif ch.adapter_dir is not None:
                out[ch.candidate] = str(ch.adapter_dir)
            else:
                out[ch.candidate] = "none (first release)"
        return out
