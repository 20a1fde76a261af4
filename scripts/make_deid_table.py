"""Regenerate vgmed_data/imaging/ps3_15_e1_1.json, the action table of the DICOM PS3.15 Basic Application Level
Confidentiality Profile (Table E.1-1), from a machine-readable copy of that table.

Input: ``confidentiality_profile_attributes.json`` of the innolitics ``dicom-standard`` project (MIT), which its
``extract_conf_profile_attributes.py`` parses from the standard's own part15.html (``table_E.1-1``; one object per
row, keys ``name``, ``tag``, ``basicProfile`` and one key per option column that has an entry). The committed
table was generated from the repository's ``standard/confidentiality_profile_attributes.json`` at commit
8670abdd9ad16c61af5146ef857899699bdd9c5f ("Update standard to rev2024b", 2024-04-18), i.e. edition 2024b; the
PyPI wheel ``dicom-standard`` 0.1.0 ships an older (2020) copy of the same file under
``dicom_standard-0.1.0.data/data/standard/``.

    python scripts/make_deid_table.py INPUT.json --edition 2024b --source "…where INPUT came from…"

Each output row: ``tag`` (``"GGGGEEEE"``, ``x`` for a repeating-group digit), ``name`` (the table's), ``keyword``
(pydicom's data dictionary; empty for repeating groups), ``basic`` (the Basic Profile action) and ``options``
(column -> action, only the columns with an entry). The private-attributes row (``(gggg,eeee) where gggg is odd``)
becomes tag ``"private"``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "vgmed_data" / "imaging" / "ps3_15_e1_1.json"
OPTION_COLUMNS = {  # input key -> (output key, the option's code in PS3.16 CID 7050)
    "rtnSafePrivOpt": ("retain_safe_private", "113111"),
    "rtnUIDsOpt": ("retain_uids", "113110"),
    "rtnDevIdOpt": ("retain_device_identity", "113109"),
    "rtnInstIdOpt": ("retain_institution_identity", "113112"),
    "rtnPatCharsOpt": ("retain_patient_characteristics", "113108"),
    "rtnLongFullDatesOpt": ("retain_longitudinal_full_dates", "113106"),
    "rtnLongModifDatesOpt": ("retain_longitudinal_modified_dates", "113107"),
    "cleanDescOpt": ("clean_descriptors", "113105"),
    "cleanStructContOpt": ("clean_structured_content", "113104"),
    "cleanGraphOpt": ("clean_graphics", "113103"),
}
ACTIONS = {"X", "Z", "D", "U", "K", "C", "X/Z", "X/D", "X/Z/D", "Z/D", "X/Z/U*"}
_TAG = re.compile(r"\(([0-9A-Fa-fXx]{4}),([0-9A-Fa-fXx]{4})\)")


def convert(rows: list[dict[str, str]], *, edition: str, source: str) -> dict[str, object]:
    from pydicom.datadict import keyword_for_tag

    out = []
    for row in rows:
        match = _TAG.fullmatch(row["tag"].strip())
        if match is None:
            if "ODD" not in row["tag"].upper():
                raise SystemExit(f"unexpected tag {row['tag']!r} ({row['name']})")
            tag, keyword = "private", ""
        else:
            tag = (match.group(1) + match.group(2)).lower()
            keyword = "" if "x" in tag else keyword_for_tag(int(tag, 16))
            if "x" not in tag and not keyword:
                raise SystemExit(f"{row['tag']} ({row['name']}) is not in pydicom's data dictionary: update pydicom")
        actions = {row["basicProfile"], *(row[k] for k in OPTION_COLUMNS if k in row)}
        if not actions <= ACTIONS:
            raise SystemExit(f"unknown action(s) {sorted(actions - ACTIONS)} for {row['tag']} ({row['name']})")
        out.append({"tag": tag, "name": row["name"], "keyword": keyword, "basic": row["basicProfile"],
                    "options": {OPTION_COLUMNS[k][0]: row[k] for k in OPTION_COLUMNS if k in row}})
    out.sort(key=lambda r: (r["tag"] == "private", r["tag"]))
    return {"table": "DICOM PS3.15 Table E.1-1 (Application Level Confidentiality Profile Attributes)",
            "edition": edition, "source": source, "generated_by": "scripts/make_deid_table.py",
            "option_codes": {name: code for name, code in OPTION_COLUMNS.values()}, "attributes": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("--edition", required=True, help="the standard's edition the input was parsed from, e.g. 2024b")
    parser.add_argument("--source", required=True, help="where the input came from (repository, path, commit)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = convert(json.loads(args.input.read_text()), edition=args.edition, source=args.source)
    rows = table.pop("attributes")
    head = json.dumps(table, indent=1, ensure_ascii=False)[:-2]  # one attribute per line: reviewable diffs
    body = ",\n".join("  " + json.dumps(row, ensure_ascii=False) for row in rows)  # type: ignore[attr-defined]
    args.out.write_text(f'{head},\n "attributes": [\n{body}\n ]\n}}\n')
    table["attributes"] = rows
    print(f"{args.out}: {len(table['attributes'])} rows, edition {args.edition}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
