"""The dataset card (README.md) generated from a dataset folder for publishing.

YAML header: ``pretty_name``; ``license`` (the Hub id when every row has one known licence, else ``other`` with
``license_name: mixed`` and ``license_details`` pointing at the per-source table); ``task_categories``;
``tags``; ``size_categories``; ``language``; the gate (``extra_gated_heading``, ``extra_gated_prompt``,
``extra_gated_fields``, ``extra_gated_button_content``) when the release is gated; ``configs`` and
``dataset_info`` (features) from :func:`vgmed_data.folder.card_yaml`.

Body: what it is (configurations, splits, row counts, modalities); how it was built (builder version, seed,
creation date, skip counts, from ``manifest.json`` / ``build_report.json`` when present); the sources table
(licence, whether images are included, rows, citation, how to obtain); access and hydration when gated; the
schema; review statistics (statuses, annotators, mean agreement) when rows were reviewed; a usage snippet;
limitations and intended use; citations.

``manifest.json`` is read through :func:`vgmed_data.manifest.read_manifest` (the same typed record the builders
write): ``name``, ``description``, ``version``, ``seed``, ``created`` and each source's name, homepage, citation
and access. ``build_report.json``: ``skipped`` (a mapping reason -> count, or a list of entries with a
``reason``) and ``counts``.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from datasets import Image, List, Value

from vgmed_data.configs import CONFIGS, dataset_config, default_config
from vgmed_data.folder import card_yaml, folder_configs, open_shard
from vgmed_data.userfiles import INDEX_LIMIT, read_bounded
from vgmed_data.guards import LicenceReport, RowFacts, hub_license_id, iter_row_facts
from vgmed_data.manifest import Manifest, read_manifest

TASK_CATEGORIES = ["visual-question-answering", "object-detection"]
BOX_NOTE = ("Boxes are pixel `[x1, y1, x2, y2]` floats in the frame of the stored image, origin top-left, x2/y2 "
            "exclusive (a one-pixel region at column 5 is `[5, y, 6, y+1]`).")


@dataclass(frozen=True, kw_only=True)
class GateTerms:
    """What a visitor must state before the Hub grants access to a gated release."""

    heading: str = "Access to this dataset requires access to its restricted sources"
    prompt: str = ("Some sources of this dataset do not allow redistribution of their images. This release holds "
                   "annotations and pointers only. By requesting access you confirm that you have (or will obtain) "
                   "access to those sources under their own terms, that you will not try to re-identify any "
                   "patient, and that you will use the data for research only, not for clinical decisions.")
    fields: Mapping[str, str] = field(default_factory=lambda: {
        "Name": "text",
        "Affiliation": "text",
        "Intended use": "text",
        "I have access to the restricted sources under their terms": "checkbox",
        "I will not attempt to re-identify patients": "checkbox",
    })
    button: str = "Request access"

    def yaml(self) -> dict[str, Any]:
        return {"extra_gated_heading": self.heading, "extra_gated_prompt": self.prompt,
                "extra_gated_fields": dict(self.fields), "extra_gated_button_content": self.button}


@dataclass
class CardFacts:
    """Everything the card says, gathered in one pass over the rows (no pixels read)."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # config -> split -> rows
    sources: Counter[str] = field(default_factory=Counter)
    source_licenses: dict[str, set[str]] = field(default_factory=dict)
    modalities: Counter[str] = field(default_factory=Counter)
    review_status: Counter[str] = field(default_factory=Counter)
    annotators: set[str] = field(default_factory=set)
    agreements: list[float] = field(default_factory=list)  # values, or a configuration's sum; math.fsum'd
    agreement_rows: int = 0  # rows with an agreement value

    @property
    def total(self) -> int:
        return sum(sum(splits.values()) for splits in self.rows.values())

    def to_json(self) -> dict[str, Any]:
        """What the folder facts record of one configuration (its rows per split are its shards')."""
        return {"sources": dict(sorted(self.sources.items())),
                "source_licenses": {k: sorted(v) for k, v in sorted(self.source_licenses.items())},
                "modalities": dict(sorted(self.modalities.items())),
                "review_status": dict(sorted(self.review_status.items())), "annotators": sorted(self.annotators),
                "agreement_rows": self.agreement_rows, "agreement_sum": math.fsum(self.agreements)}

    def merge(self, config: str, rows: Mapping[str, int], data: Mapping[str, Any]) -> None:
        """Add one configuration's recorded facts (:meth:`to_json`) and its rows per split."""
        self.rows[config] = dict(rows)
        self.sources.update(data["sources"])
        for source, licenses in data["source_licenses"].items():
            self.source_licenses.setdefault(source, set()).update(licenses)
        self.modalities.update(data["modalities"])
        self.review_status.update(data["review_status"])
        self.annotators.update(data["annotators"])
        self.agreements.append(data["agreement_sum"])
        self.agreement_rows += data["agreement_rows"]

    def add(self, facts: RowFacts) -> None:
        splits = self.rows.setdefault(facts.config, {})
        splits[facts.split] = splits.get(facts.split, 0) + 1
        self.sources[facts.source] += 1
        self.source_licenses.setdefault(facts.source, set()).add(facts.license)
        self.modalities[facts.modality] += 1
        review = facts.review or {}
        self.review_status[review.get("status") or "unreviewed"] += 1
        self.annotators.update(review.get("annotators") or [])
        if review.get("agreement") is not None:
            self.agreements.append(float(review["agreement"]))
            self.agreement_rows += 1


def gather(folder: str | os.PathLike[str]) -> CardFacts:
    facts = CardFacts()
    for row in iter_row_facts(folder):
        facts.add(row)
    return facts


def size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if rows < limit:
            return name
    return "10M<n<100M"


def _read_json(path: Path) -> Any:
    """The JSON in ``path``; ``None`` when there is none or it is not JSON (a pipe, a device or an oversized file is
    refused in one line)."""
    if not path.exists():
        return None
    try:
        return json.loads(read_bounded(path, limit=INDEX_LIMIT, what=path.name))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _describe(feature: Any) -> str:
    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, Image):
        return "image"
    if isinstance(feature, List):
        length = f", length {feature.length}" if getattr(feature, "length", -1) not in (-1, None) else ""
        return f"list[{_describe(feature.feature)}{length}]"
    if isinstance(feature, Mapping):
        return "struct{" + ", ".join(f"{k}: {_describe(v)}" for k, v in feature.items()) + "}"
    return type(feature).__name__


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass(frozen=True, kw_only=True)
class CardOptions:
    repo_id: str
    revision: str | None = None
    annotations_only: bool = False
    gate: GateTerms | None = None
    checks: Mapping[str, Any] | None = None  # the release audit (vgmed_data.hub.release_checks)


# config -> split -> (Arrow bytes, rows); the download size is the configuration's shard bytes
SplitSizes = Mapping[str, Mapping[str, tuple[int, int]]]


def card_header(folder: str | os.PathLike[str], facts: CardFacts, *, options: CardOptions,
                manifest: Manifest | None, sizes: tuple[SplitSizes, Mapping[str, int]] | None = None) -> dict[str, Any]:
    licenses = {lic for lics in facts.source_licenses.values() for lic in lics}
    single = hub_license_id(next(iter(licenses))) if len(licenses) == 1 else None
    header: dict[str, Any] = {"pretty_name": (manifest and manifest.name) or options.repo_id.split("/")[-1]}
    if single:
        header["license"] = single
    else:
        header |= {"license": "other", "license_name": "mixed",
                   "license_details": "Each source keeps its own licence; see the Sources table in this card."}
    tags = ["medical", "visual-grounding", "vqa", "vgmed-data"]
    tags += sorted({m.lower() for m in facts.modalities if m})
    if options.annotations_only:
        tags.append("annotations-only")
    header |= {"task_categories": TASK_CATEGORIES, "language": ["en"], "tags": tags,
               "size_categories": [size_category(facts.total)]}
    if options.gate is not None:
        header |= options.gate.yaml()
    return with_split_sizes(card_yaml(folder, extra=header), folder, recorded=sizes)


def with_split_sizes(header: dict[str, Any], folder: str | os.PathLike[str], *,
                     recorded: tuple[SplitSizes, Mapping[str, int]] | None = None) -> dict[str, Any]:
    """Add ``splits: [{name, num_bytes, num_examples}]`` (rows in the split's Parquet footers, the files the
    ``configs`` entry names) and ``download_size`` (bytes of those shards, what a client downloads) to each
    ``dataset_info`` entry. ``datasets`` checks ``num_examples`` against what it loads (``verify_splits``), so
    a wrong count fails the load instead of passing silently. ``num_bytes`` is the split's Arrow size (the sum of
    ``Table.nbytes`` over the shards' row groups, read one at a time; images are stored bytes, not decoded),
    the figure ``Dataset.push_to_hub`` records (up to a few bytes of buffer layout): without it ``datasets`` warns on every load that the ``splits``
    field is malformed (``SplitDict._from_yaml_list`` requires name, num_bytes and num_examples)."""

    def arrow_bytes(path: Path) -> int:
        shard = open_shard(path)
        return sum(shard.read_row_group(index).nbytes for index in range(shard.num_row_groups))

    root = Path(folder)
    configs = folder_configs(root)
    for entry in header.get("dataset_info", []):
        splits = configs.get(entry["config_name"], {})
        entry["splits"] = [{"name": split, "num_bytes": sum(arrow_bytes(root / shard) for shard in shards),
                            "num_examples": sum(open_shard(root / shard).metadata.num_rows for shard in shards)}
                           for split, shards in sorted(splits.items())]
        entry["download_size"] = sum((root / shard).stat().st_size for shards in splits.values() for shard in shards)
    return header


LIMITATIONS = ("## Intended use and limitations", "",
               "- Intended for evaluating where multimodal models look and what they answer on medical images "
               "(grounding, visual question answering). Not for clinical decisions.",
               "- Boxes are derived from the sources' masks or boxes; questions are generated from templates and "
               "reviewed where the Review section says so. Unreviewed rows may contain errors.",
               "- Splits are by subject within each source, the unit in the Sources table (patient, or volume, image, "
               "video or centre where the source defines its subjects so): no unit appears in two splits. A source "
               "split by image or volume may hold the same patient in two splits where it does not link them.",
               "- Coverage follows the public sources: modalities, body parts, populations and scanners are not "
               "balanced, and results may not transfer to other sites.",
               "- Images are rendered 8-bit views (windowed for CT/MR); intensities are not the original units.",
               "- Sources that forbid redistribution appear as annotations with pointers only; their images must be "
               "obtained from the source under its terms.", "")


def card_body(folder: str | os.PathLike[str], facts: CardFacts, *, options: CardOptions, report: LicenceReport,
              manifest: Manifest | None, build_report: Mapping[str, Any] | None) -> str:
    name = (manifest and manifest.name) or options.repo_id.split("/")[-1]
    out: list[str] = [f"# {name}", ""]
    out += [(manifest and manifest.description) or
            "A medical visual-grounding dataset: " + "; ".join(spec.card_text for spec in CONFIGS.values()) + ".", ""]
    for config, splits in sorted(facts.rows.items()):
        out.append(f"- `{config}`: " + ", ".join(f"{s} {n} rows" for s, n in sorted(splits.items())))
    out += ["", f"{facts.total} rows from {len(facts.sources)} source(s); modalities: "
            + ", ".join(f"{m or '?'} ({n})" for m, n in facts.modalities.most_common()) + ".", ""]

    out += _built_section(manifest, build_report)
    out += _sources_section(facts, options=options, report=report, manifest=manifest)
    out += _access_section(options)
    if options.checks is not None:
        out += _checks_section(options.checks)
    out += _schema_section(facts)
    out += _review_section(facts)
    out += _usage_section(facts, options)
    out += LIMITATIONS
    out += _citation_section(facts, manifest)
    return "\n".join(out)


def _built_section(manifest: Manifest | None, build_report: Mapping[str, Any] | None) -> list[str]:
    out: list[str] = []
    out += ["## How it was built", ""]
    built = [f"- {label}: `{value}`" for label, value in
             (("builder version", manifest.version), ("command", f"vgmed {manifest.command}"),
              ("seed", manifest.seed), ("created", manifest.created))
             if value not in (None, "")] if manifest and manifest.built else []
    out += built or ["- no build record in `manifest.json`: builder version and seed are not recorded."]
    skipped = (build_report or {}).get("skipped")
    if isinstance(skipped, Mapping):
        out += [f"- skipped during the build: {sum(int(v) for v in skipped.values())} record(s) ("
                + ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items())) + ")"]
    elif isinstance(skipped, list):
        reasons = Counter(str(item.get("reason", "?")) if isinstance(item, Mapping) else str(item) for item in skipped)
        out += [f"- skipped during the build: {len(skipped)} record(s) ("
                + ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) + ")"]
    guessable = (build_report or {}).get("guessable_dicom_uids")
    if isinstance(guessable, Mapping) and guessable:
        out += ["- **the `dicom-sop:` pointers of " + ", ".join(f"`{k}` ({v} series)" for k, v in sorted(guessable.items()))
                + " can be inverted**: those series' UIDs come from a guessable root (dates and counters, no long "
                "random part), and a pointer is an unkeyed SHA-256 of the SOPInstanceUID, so whoever can list "
                "candidate UIDs can tell which source instance a row was rendered from. Patient and record ids are "
                "keyed and do not have this weakness."]
    out += ["- built with vgmed-data from the public sources below; sample ids are derived "
            "deterministically from source, record, region and question type.", ""]
    return out


def _sources_section(facts: CardFacts, *, options: CardOptions, report: LicenceReport,
                     manifest: Manifest | None) -> list[str]:
    out: list[str] = []
    out += ["## Sources", "", "| source | licence | licence status (where read) | images in this release | split unit "
            "| rows | citation | how to obtain |", "|---|---|---|---|---|---|---|---|"]
    for source, rows in sorted(facts.sources.items()):
        meta = manifest.source(source) if manifest else None
        restricted = report.restricted_rows.get(source, 0)
        images = ("no (annotations and pointers only)" if options.annotations_only or restricted
                  else "yes")
        label = f"{meta.name} (`{source}`)" if meta and meta.name else f"`{source}`"
        how = (meta and (meta.access or meta.homepage)) or "see the source's homepage"
        citation = (meta and meta.citation) or "not recorded in manifest.json"
        status = (f"{meta.license_status} ({meta.license_read_at or 'where read not recorded'})"
                  if meta and meta.license_status else "not recorded in manifest.json")
        unit = (meta and meta.split_unit) or "patient"
        out.append(f"| {_cell(label)} | {_cell(', '.join(sorted(facts.source_licenses[source])))} | {_cell(status)} | "
                   f"{images} | {unit} | {rows} | {_cell(citation)} | {_cell(how)} |")
    out += [""]
    return out


def _access_section(options: CardOptions) -> list[str]:
    out: list[str] = []
    if options.annotations_only:
        out += ["## Access and images", "",
                "This release carries no image or mask bytes. Every row keeps its pointer to the source: `source` "
                "and `source_id`, and in `metadata` the file inside the source (`source_path`, or `source_paths` "
                "per image for `sequences`) plus a fingerprint of the published pixels (`image_sha256`). With a "
                "local copy of a source, restore the images and check them against the fingerprints:", "",
                "```bash", f"hf download {options.repo_id} --repo-type dataset --local-dir VGMED",
                "vgmed hydrate VGMED --source KEY=/path/to/your/copy/of/KEY", "```", ""]
        if options.gate is not None:
            out += ["Access is gated: the request form asks for the fields in `extra_gated_fields`.", ""]
    return out


def _schema_section(facts: CardFacts) -> list[str]:
    out: list[str] = []
    out += ["## Schema", ""]
    for config in sorted(facts.rows):
        spec = dataset_config(config)
        out += [f"`{config}` (split by {spec.split_unit}):", "", "| field | type |", "|---|---|"]
        out += [f"| `{key}` | {_cell(_describe(value))} |" for key, value in spec.features.items()]
        out += [""]
    out += [BOX_NOTE, "Provenance on every row: `source`, `source_id`, `license` (SPDX id), `redistributable`, "
            "`patient_id` (pseudonymous), `split` (by the source's split unit), `metadata` (JSON).", ""]
    return out


def _review_section(facts: CardFacts) -> list[str]:
    out: list[str] = []
    reviewed = sum(n for status, n in facts.review_status.items() if status != "unreviewed")
    if reviewed:
        out += ["## Review", "", f"{reviewed} of {facts.total} rows were reviewed by "
                f"{len(facts.annotators)} annotator(s).", "",
                "| status | rows |", "|---|---|"]
        out += [f"| {status} | {n} |" for status, n in sorted(facts.review_status.items())]
        if facts.agreement_rows:
            mean = math.fsum(facts.agreements) / facts.agreement_rows
            out += ["", f"Mean inter-annotator agreement over {facts.agreement_rows} rows with an "
                    f"agreement value: {mean:.3f}."]
        out += [""]
    return out


def _usage_section(facts: CardFacts, options: CardOptions) -> list[str]:
    out: list[str] = []
    config = default_config(facts.rows) or "vgmed"
    revision = f", revision=\"{options.revision}\"" if options.revision else ""
    token = ", token=True" if options.gate is not None else ""
    out += ["## Usage", "", "```python", "from datasets import load_dataset", "",
            f"ds = load_dataset(\"{options.repo_id}\", \"{config}\"{revision}{token})",
            "row = ds[\"test\"][0]" if "test" in facts.rows.get(config, {}) else
            f"row = ds[\"{next(iter(sorted(facts.rows.get(config, {'train': 0}))))}\"][0]",
            "print(row[\"question\"], row[\"boxes\"] if \"boxes\" in row else row[\"answer_box\"])", "```", ""]
    return out


def _citation_section(facts: CardFacts, manifest: Manifest | None) -> list[str]:
    out: list[str] = []
    citations = [meta.citation for meta in sorted(manifest.sources if manifest else (), key=lambda m: m.key)
                 if meta.citation and meta.key in facts.sources]
    if citations:
        out += ["## Citation", "", "Please cite the sources you use:", ""] + [f"- {c}" for c in citations] + [""]
    return out


def _checks_section(checks: Mapping[str, Any]) -> list[str]:
    out = ["## Checks", "",
           f"Before publishing, `vgmed audit` looked at the {checks['images']} distinct images of the "
           f"{checks['rows']} rows for exact duplicates (the same decoded pixels) and near duplicates (perceptual "
           f"hashes within {checks['threshold']} of 64 bits, mirror images included) across splits and across "
           "sources, and for pseudonymous patients with rows in several splits.", "",
           "| check | count |", "|---|---|"]
    out += [f"| {_cell(kind)} | {count} |" for kind, count in checks["leaks"].items()]
    out += [f"| {_cell(kind)} | {count} |" for kind, count in checks["counts"].items() if "cross-split" not in kind]
    if checks["allowed"]:
        out += ["", "**This release was published with `--allow-leaks`:** the splits share the images or patients "
                "counted above, so scores on one split are not independent of training on another."]
    return out + [""]


def render_card(folder: str | os.PathLike[str], *, options: CardOptions, report: LicenceReport,
                facts: CardFacts | None = None, sizes: tuple[SplitSizes, Mapping[str, int]] | None = None) -> str:
    """The full README.md text for ``folder`` (YAML header + body). ``facts`` and ``sizes``: from the folder's
    verified facts (:mod:`vgmed_data.facts`); else every row and row group is read."""
    root = Path(folder)
    manifest = read_manifest(root)
    build_report = _read_json(root / "build_report.json")
    facts = gather(folder) if facts is None else facts
    header = card_header(folder, facts, options=options, manifest=manifest, sizes=sizes)
    body = card_body(folder, facts, options=options, report=report, manifest=manifest, build_report=build_report)
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n" + body

