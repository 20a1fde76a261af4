"""The bad-input corpus: one line per case, each a malformed input made from the demo dataset and the command
line that reads it.

Every case runs in its own folder holding fresh copies of the bases (:data:`BASES`): ``folder/`` (the demo
dataset), ``stripped/`` (its annotations-only copy, for hydrate), ``images/`` + ``in.jsonl`` (a one-line VGMED
release), ``preds.jsonl`` (a valid prediction for eval score). A case's ``make`` breaks one thing in there; the
command line uses the placeholders of :data:`PLACES`. Adding a case is one line in :data:`CASES`:

    Case("validate/shard-truncated", "validate {folder}", truncate(SHARD, 100), says=SHARD_NAME, exit=1),

``says``: text the message must contain (the input's name, or the record); ``exit``: 1 for validate's list of
problems, 2 for a command's one-line error.
"""

from __future__ import annotations

import io
import json
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

Make = Callable[[Path], None]

SHARD = "folder/data/vgmed/test-00000-of-00001.parquet"
SHARD_NAME = "test-00000-of-00001.parquet"
STRIPPED_SHARD = "stripped/data/vgmed/test-00000-of-00001.parquet"
FIRST_ID = "{first_id}"  # replaced by the id of the first row of SHARD
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once

SEQ_SHARD = "seq/data/sequences/test-00000-of-00001.parquet"

PLACES = ("folder", "stripped", "seq", "images", "jsonl", "preds", "out", "file", "dir", "pydicom", "nifti", "tiny")


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # a vgmed command line with {placeholders}; split on spaces after formatting
    make: Make | None = None
    says: str = ""
    exit: int = 2


# ------------------------------------------------------------------------------------------------ input makers
def write(relative: str, data: bytes | str) -> Make:
    def make(case: Path) -> None:
        path = case / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return make


def remove(relative: str) -> Make:
    def make(case: Path) -> None:
        path = case / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return make


def mkdir(relative: str) -> Make:
    def make(case: Path) -> None:
        path = case / relative
        if path.is_file():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
    return make


def truncate(relative: str, keep: int) -> Make:
    """Keep the first ``keep`` bytes (negative: drop that many from the end)."""
    def make(case: Path) -> None:
        path = case / relative
        data = path.read_bytes()
        path.write_bytes(data[:keep])
    return make


def copy(source: str, destination: str) -> Make:
    def make(case: Path) -> None:
        shutil.copyfile(case / source, case / destination)
    return make


def chain(*makers: Make) -> Make:
    def make(case: Path) -> None:
        for maker in makers:
            maker(case)
    return make


def rows(relative: str, change: Callable[[dict[str, Any]], None]) -> Make:
    """Rewrite a shard with ``change`` applied to its first row (schema and metadata kept, so only the value is
    wrong)."""
    def make(case: Path) -> None:
        path = case / relative
        table = pq.read_table(path)
        data = table.to_pylist()
        change(data[0])
        pq.write_table(pa.Table.from_pylist(data, schema=table.schema), path)
    return make


def cell(column: str, value: Any, relative: str = SHARD) -> Make:
    return rows(relative, lambda row: row.__setitem__(column, value))


def metadata(change: Callable[[dict[str, Any]], None], relative: str = STRIPPED_SHARD) -> Make:
    def edit(row: dict[str, Any]) -> None:
        meta = json.loads(row["metadata"])
        change(meta)
        row["metadata"] = json.dumps(meta)
    return rows(relative, edit)


def jsonl(*lines: Any, relative: str = "in.jsonl") -> Make:
    """Write JSON Lines: dicts/lists/numbers are dumped, bytes and str are written as given."""
    def encode(line: Any) -> bytes:
        if isinstance(line, bytes):
            return line
        return (line if isinstance(line, str) else json.dumps(line)).encode()
    def make(case: Path) -> None:
        text = b"\n".join(encode(line) for line in lines) + b"\n"
        write(relative, text.replace(FIRST_ID.encode(), (case / "first_id").read_bytes()))(case)
    return make


def release_line(**changes: Any) -> dict[str, Any]:
    line = {"image": "a.png", "question": "Where is the lesion?", "bbox": [[10, 10, 40, 40]]}
    line.update(changes)
    return {k: v for k, v in line.items() if v is not ...}


def prediction(**changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"id": FIRST_ID, "output": "[27, 6, 84, 82]"}
    line.update(changes)
    return line


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` and whose pixels are all zero (1-bit grey: a 30000 x 30000
    picture compresses to about 100 kB, a decompression bomb for anything that decodes it)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def corrupt_png() -> bytes:
    """A PNG with a valid header and garbage pixel data (header-only checks pass, decoding fails)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (128, 128), 7).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    start = data.index(b"IDAT") + 4
    data[start:start + 20] = b"\xff" * 20
    return bytes(data)


BOMB = png_header_only(30000, 30000)
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_NUMBER = "1" + "0" * 5000
NOT_UTF8 = b'{"id": "\xff\xfe", "output": "x"}'

def medsg_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"task": "Registered_Diff", "images": ["a.png", "a.png"],
                            "question": "Which image shows the change? Answer with the box.", "answer": [10, 10, 40, 40]}
    item.update(changes)
    return {k: v for k, v in item.items() if v is not ...}


def medsg(*items: Any) -> Make:
    """Write ``ms.json``: a list of the given items (bytes and str are written as the whole file)."""
    if len(items) == 1 and isinstance(items[0], (bytes, str)):
        return write("ms.json", items[0])
    return write("ms.json", json.dumps(list(items)))


# ------------------------------------------------------------------------------------------------------- cases
IMPORT = "import vgmed-jsonl {jsonl} --images {images} --out {out}"
EXPORT = "export vgmed-jsonl {folder} --out {out}/x.jsonl"
SCORE = "eval score --dataset {folder} --predictions {preds} --format pixel_xyxy --config vgmed --out {out}"
HYDRATE = "hydrate {stripped} --source pydicom-testdata={pydicom}"
MEDSG = "build sequences --from-medsg {dir}/ms.json --images-root {images} --out {out}"
BUILD = "build vgmed --out {out} --source"
PUBLISH = f"publish {{folder}} --repo lab/vgmed --token hf_notreal --endpoint {UNREACHABLE}"

CASES: list[Case] = [
    # validate: shards, card, cells
    Case("validate/shard-truncated", "validate {folder}", truncate(SHARD, 100), says=SHARD_NAME, exit=1),
    Case("validate/shard-footer-cut", "validate {folder}", truncate(SHARD, -9), says=SHARD_NAME, exit=1),
    Case("validate/shard-empty", "validate {folder}", truncate(SHARD, 0), says=SHARD_NAME, exit=1),
    Case("validate/shard-is-text", "validate {folder}", write(SHARD, "id,question\n1,hello\n"), says=SHARD_NAME, exit=1),
    Case("validate/shard-is-a-folder", "validate {folder}", mkdir("folder/data/vgmed/extra-00000-of-00001.parquet"),
         says="extra-00000-of-00001.parquet", exit=1),
    Case("validate/card-broken-yaml", "validate {folder}", write("folder/README.md", "---\nconfigs: [\n---\nbody\n"),
         says="README.md", exit=1),
    Case("validate/card-yaml-is-a-list", "validate {folder}", write("folder/README.md", "---\n- a\n- b\n---\n"),
         says="README.md", exit=1),
    Case("validate/card-yaml-is-a-scalar", "validate {folder}", write("folder/README.md", "---\n42\n---\n"),
         says="README.md", exit=1),
    Case("validate/card-configs-not-a-list", "validate {folder}",
         write("folder/README.md", "---\nconfigs: 3\ndataset_info: {a: 1}\n---\n"), says="README.md", exit=1),
    Case("validate/card-is-a-folder", "validate {folder}", mkdir("folder/README.md"), says="README.md", exit=1),
    Case("validate/card-not-utf8", "validate {folder}", write("folder/README.md", b"---\nname: \xff\xfe\n---\n"),
         says="README.md", exit=1),
    Case("validate/card-missing", "validate {folder}", remove("folder/README.md"), says="README.md", exit=1),
    Case("validate/image-undecodable", "validate {folder}", cell("image", {"bytes": corrupt_png(), "path": None}),
         says=FIRST_ID, exit=1),
    Case("validate/image-not-an-image", "validate {folder}", cell("image", {"bytes": b"hello", "path": None}),
         says=FIRST_ID, exit=1),
    Case("validate/image-bomb", "validate {folder}", cell("image", {"bytes": BOMB, "path": None}), says=FIRST_ID, exit=1),
    Case("validate/mask-undecodable", "validate {folder}", cell("mask", {"bytes": b"\x89PNG\r\n\x1a\nxx", "path": None}),
         says=FIRST_ID, exit=1),
    Case("validate/metadata-not-json", "validate {folder}", cell("metadata", "{not json"), says=FIRST_ID, exit=1),
    Case("validate/metadata-json-list", "validate {folder}", cell("metadata", "[1, 2]"), says=FIRST_ID, exit=1),
    Case("validate/id-climbs-out", "validate {folder}", cell("id", "../../x"), says="../../x", exit=1),
    Case("validate/id-has-newline", "validate {folder}", cell("id", "a\nb"), says="control characters", exit=1),
    Case("validate/id-empty", "validate {folder}", cell("id", ""), says="id", exit=1),
    Case("validate/width-null", "validate {folder}", cell("width", None), says=FIRST_ID, exit=1),
    Case("validate/box-nan", "validate {folder}", cell("boxes", [[float("nan"), 1.0, 5.0, 5.0]]), says=FIRST_ID, exit=1),
    Case("validate/box-inverted", "validate {folder}", cell("boxes", [[50.0, 50.0, 5.0, 5.0]]), says=FIRST_ID, exit=1),
    Case("validate/split-null", "validate {folder}", cell("split", None), says=FIRST_ID, exit=1),
    Case("validate/folder-missing", "validate {dir}/nope", says="nope"),
    Case("validate/folder-is-a-file", "validate {file}", write("input.bin", "x"), says="input.bin"),
    # import vgmed-jsonl
    Case("import/bbox-strings", IMPORT, jsonl(release_line(bbox=["a", "b", "c", "d"])), says="line 1"),
    Case("import/bbox-ragged", IMPORT, jsonl(release_line(bbox=[[1, 2, 3], [1, 2, 3, 4]])), says="line 1"),
    Case("import/bbox-number", IMPORT, jsonl(release_line(bbox=5)), says="line 1"),
    Case("import/bbox-dict", IMPORT, jsonl(release_line(bbox={"x": 1})), says="line 1"),
    Case("import/bbox-string", IMPORT, jsonl(release_line(bbox="[1, 2, 3, 4]")), says="line 1"),
    Case("import/bbox-nan", IMPORT, jsonl('{"image": "a.png", "question": "q?", "bbox": [NaN, 1, 5, 5]}'), says="line 1"),
    Case("import/bbox-bool", IMPORT, jsonl(release_line(bbox=[True, 1, 5, 5])), says="line 1"),
    Case("import/bbox-huge-number", IMPORT, jsonl(f'{{"image": "a.png", "question": "q?", "bbox": [{HUGE_NUMBER}, 1, 5, 5]}}'),
         says="line 1"),
    Case("import/bbox-inverted", IMPORT, jsonl(release_line(bbox=[[40, 40, 10, 10]])), says="line 1"),
    Case("import/bbox-outside-image", IMPORT, jsonl(release_line(bbox=[[10, 10, 500, 40]])), says="line 1"),
    Case("import/image-is-a-folder", IMPORT, chain(mkdir("images/d.png"), jsonl(release_line(image="d.png"))),
         says="d.png"),
    Case("import/image-not-an-image", IMPORT, chain(write("images/t.png", "text"), jsonl(release_line(image="t.png"))),
         says="t.png"),
    Case("import/image-bomb", IMPORT, chain(write("images/b.png", BOMB), jsonl(release_line(image="b.png"))),
         says="b.png"),
    Case("import/image-missing", IMPORT, jsonl(release_line(image="gone.png")), says="gone.png"),
    Case("import/image-climbs-out", IMPORT, chain(copy("images/a.png", "outside.png"),
                                                  jsonl(release_line(image="../outside.png"))), says="../outside.png"),
    Case("import/image-absolute", IMPORT, jsonl(release_line(image="/etc/hostname")), says="/etc/hostname"),
    Case("import/image-number", IMPORT, jsonl(release_line(image=7)), says="line 1"),
    Case("import/image-empty", IMPORT, jsonl(release_line(image="")), says="line 1"),
    Case("import/question-null", IMPORT, jsonl(release_line(question=None)), says="line 1"),
    Case("import/question-dict", IMPORT, jsonl(release_line(question={"a": 1})), says="line 1"),
    Case("import/question-empty", IMPORT, jsonl(release_line(question=" ")), says="line 1"),
    Case("import/line-is-a-list", IMPORT, jsonl([1, 2, 3]), says="line 1"),
    Case("import/line-lacks-bbox", IMPORT, jsonl(release_line(bbox=...)), says="line 1"),
    Case("import/line-not-json", IMPORT, jsonl("{oops"), says="line 1"),
    Case("import/line-not-utf8", IMPORT, jsonl(b'{"image": "a.png", "question": "\xff", "bbox": [1, 1, 5, 5]}'),
         says="in.jsonl"),
    Case("import/deeply-nested", IMPORT, jsonl(DEEP), says="line 1"),
    Case("import/empty-file", IMPORT, write("in.jsonl", ""), says="in.jsonl"),
    Case("import/file-missing", "import vgmed-jsonl {dir}/none.jsonl --images {images} --out {out}", says="none.jsonl"),
    Case("import/file-is-a-folder", "import vgmed-jsonl {images} --images {images} --out {out}", says="images"),
    Case("import/images-not-a-folder", "import vgmed-jsonl {jsonl} --images {file} --out {out}", write("input.bin", "x"),
         says="input.bin"),
    Case("import/out-is-a-file", "import vgmed-jsonl {jsonl} --images {images} --out {file}", write("input.bin", "x"),
         says="input.bin"),
    Case("import/second-line-bad", IMPORT, jsonl(release_line(), release_line(bbox="x")), says="line 2"),
    # export vgmed-jsonl
    Case("export/folder-missing", "export vgmed-jsonl {dir}/nope --out {out}/x.jsonl", says="nope"),
    Case("export/shard-truncated", EXPORT, truncate(SHARD, 100), says=SHARD_NAME),
    Case("export/shard-is-text", EXPORT, write(SHARD, "hello"), says=SHARD_NAME),
    Case("export/metadata-not-json", EXPORT, cell("metadata", "{nope"), says=FIRST_ID),
    Case("export/original-bbox-bad", EXPORT, cell("metadata", json.dumps({"vgmed_jsonl": {"image": "a.png", "bbox": "x"}})),
         says=FIRST_ID),
    Case("export/original-not-a-dict", EXPORT, cell("metadata", json.dumps({"vgmed_jsonl": [1]})), says=FIRST_ID),
    Case("export/image-undecodable", EXPORT + " --images-dir {out}/img", cell("image", {"bytes": b"junk", "path": None}),
         says=FIRST_ID),
    Case("export/out-is-a-folder", "export vgmed-jsonl {folder} --out {images}", says="images"),
    Case("export/out-parent-is-a-file", "export vgmed-jsonl {folder} --out {file}/x.jsonl", write("input.bin", "x"),
         says="input.bin"),
    # render
    Case("render/a-folder", "render {images} --out {out}/x.png", says="images"),
    Case("render/missing", "render {dir}/none.dcm --out {out}/x.png", says="none.dcm"),
    Case("render/bomb", "render {dir}/input.png --out {out}/x.png", write("input.png", BOMB), says="input.png"),
    Case("render/out-without-extension", "render {images}/a.png --out {out}/x", says="x"),
    Case("render/out-unknown-extension", "render {images}/a.png --out {out}/x.xyz", says="x.xyz"),
    Case("render/out-is-a-folder", "render {images}/a.png --out {images}", says="images"),
    Case("render/text-as-dicom", "render {dir}/input.dcm --out {out}/x.png", write("input.dcm", "hello"), says="input.dcm"),
    Case("render/dicom-truncated", "render {dir}/input.dcm --out {out}/x.png",
         lambda case: (case / "input.dcm").write_bytes((Path(_pydicom_dir()) / "CT_small.dcm").read_bytes()[:2000]),
         says="input.dcm"),
    Case("render/nifti-empty", "render {dir}/input.nii.gz --out {out}/x.png", write("input.nii.gz", b""),
         says="input.nii.gz"),
    Case("render/html-as-nifti", "render {dir}/input.nii.gz --out {out}/x.png",
         write("input.nii.gz", "<html><body>Not found</body></html>"), says="input.nii.gz"),
    Case("render/png-truncated", "render {dir}/input.png --out {out}/x.png",
         lambda case: (case / "input.png").write_bytes((case / "images" / "a.png").read_bytes()[:60]), says="input.png"),
    Case("render/unknown-type", "render {file} --out {out}/x.png", write("input.bin", "hello"), says="input.bin"),
    Case("render/frame-out-of-range", "render {pydicom}/CT_small.dcm --frame 5 --out {out}/x.png", says="CT_small.dcm"),
    Case("render/slice-out-of-range", "render {nifti} --slice 9999 --out {out}/x.png", says="anatomical.nii"),
    Case("render/slice-negative", "render {nifti} --slice -3 --out {out}/x.png", says="anatomical.nii"),
    Case("render/channel-out-of-range", "render {nifti} --channel 4 --out {out}/x.png", says="anatomical.nii"),
    Case("render/window-garbage", "render {pydicom}/CT_small.dcm --window 1,x --out {out}/x.png", says="1,x"),
    # eval score
    Case("score/transforms-a-number", SCORE, jsonl(prediction(input_transforms=5), relative="preds.jsonl"), says="line 1"),
    Case("score/transforms-bad-dict", SCORE, jsonl(prediction(input_transforms=[{"a": 1}]), relative="preds.jsonl"),
         says="line 1"),
    Case("score/transforms-bad-json", SCORE, jsonl(prediction(input_transforms=["{nope"]), relative="preds.jsonl"),
         says="line 1"),
    Case("score/transforms-wrong-count", SCORE, jsonl(prediction(input_transforms=[]), relative="preds.jsonl"),
         says=FIRST_ID),
    Case("score/huge-number", SCORE, jsonl(f'{{"id": "{FIRST_ID}", "output": "x", "n": {HUGE_NUMBER}}}',
                                           relative="preds.jsonl"), says="line 1"),
    Case("score/not-utf8", SCORE, jsonl(NOT_UTF8, relative="preds.jsonl"), says="preds.jsonl"),
    Case("score/deeply-nested", SCORE, jsonl(DEEP, relative="preds.jsonl"), says="line 1"),
    Case("score/output-too-large", SCORE, jsonl(prediction(output="[" * 5_000_001), relative="preds.jsonl"),
         says="line 1"),
    Case("score/predictions-a-folder", "eval score --dataset {folder} --predictions {images} --format pixel_xyxy "
         "--config vgmed", says="images"),
    Case("score/predictions-missing", "eval score --dataset {folder} --predictions {dir}/none.jsonl --format "
         "pixel_xyxy --config vgmed", says="none.jsonl"),
    Case("score/dataset-missing", "eval score --dataset {dir}/nope --predictions {preds} --format pixel_xyxy "
         "--config vgmed", says="nope"),
    Case("score/shard-truncated", SCORE, truncate(SHARD, 100), says=SHARD_NAME),
    Case("score/width-null", SCORE, cell("width", None), says=FIRST_ID),
    Case("score/out-is-a-file", SCORE.replace("{out}", "{file}"), write("input.bin", "x"), says="input.bin"),
    Case("score/id-not-a-string", SCORE, jsonl(prediction(id=5), relative="preds.jsonl"), says="line 1"),
    # hydrate
    Case("hydrate/metadata-not-json", HYDRATE, cell("metadata", "{nope", relative=STRIPPED_SHARD), says=FIRST_ID),
    Case("hydrate/metadata-a-list", HYDRATE, cell("metadata", "[]", relative=STRIPPED_SHARD), says=FIRST_ID),
    Case("hydrate/frame-not-a-number", HYDRATE, metadata(lambda m: m.__setitem__("frame", "x")), says=FIRST_ID),
    Case("hydrate/source-path-climbs-out", HYDRATE, metadata(lambda m: m.__setitem__("source_path", "../../../etc/hostname")),
         says=FIRST_ID),
    Case("hydrate/source-path-absolute", HYDRATE, metadata(lambda m: m.__setitem__("source_path", "/etc/hostname")),
         says=FIRST_ID),
    Case("hydrate/source-path-a-number", HYDRATE, metadata(lambda m: m.__setitem__("source_path", 5)), says=FIRST_ID),
    Case("hydrate/source-path-a-folder", HYDRATE, metadata(lambda m: m.__setitem__("source_path", ".")), says=FIRST_ID),
    Case("hydrate/source-path-not-an-image", HYDRATE, metadata(lambda m: m.__setitem__("source_path", "__init__.py")),
         says=FIRST_ID),
    Case("hydrate/fingerprint-differs", HYDRATE, metadata(lambda m: m.__setitem__("image_sha256", "0" * 64)),
         says=FIRST_ID),
    Case("hydrate/shard-truncated", HYDRATE, truncate(STRIPPED_SHARD, 100), says=SHARD_NAME),
    Case("hydrate/shard-is-text", HYDRATE, write(STRIPPED_SHARD, "hello"), says=SHARD_NAME),
    Case("hydrate/folder-missing", "hydrate {dir}/nope --source pydicom-testdata={pydicom}", says="nope"),
    Case("hydrate/source-missing", "hydrate {stripped} --source pydicom-testdata={dir}/nope", says="nope"),
    Case("hydrate/source-without-equals", "hydrate {stripped} --source pydicom", says="pydicom"),
    # a sequences folder
    Case("validate/seq-image-undecodable", "validate {seq}", cell("images", [{"bytes": b"junk", "path": None}] * 2,
                                                                  SEQ_SHARD), says="image 0", exit=1),
    Case("validate/seq-size-null", "validate {seq}", cell("image_sizes", [None, [120, 100]], SEQ_SHARD),
         says="image_sizes has a null entry", exit=1),
    Case("validate/seq-answer-index-out", "validate {seq}", cell("answer_image_index", 7, SEQ_SHARD),
         says="answer_image_index", exit=1),
    Case("validate/seq-metadata-not-json", "validate {seq}", cell("metadata", "{x", SEQ_SHARD), says="metadata",
         exit=1),
    Case("validate/seq-provenance-null", "validate {seq}", cell("image_provenance", None, SEQ_SHARD),
         says="image_provenance", exit=1),
    Case("score/seq-answer-box-null", "eval score --dataset {seq} --predictions {dir}/p.jsonl --format pixel_xyxy",
         chain(cell("answer_box", None, SEQ_SHARD), jsonl({"id": "x", "output": "[1, 2, 3, 4]"}, relative="p.jsonl")),
         says="cannot be scored"),
    Case("score/seq-size-null", "eval score --dataset {seq} --predictions {dir}/p.jsonl --format pixel_xyxy",
         chain(cell("image_sizes", [None, [120, 100]], SEQ_SHARD),
               jsonl({"id": "x", "output": "[1, 2, 3, 4]"}, relative="p.jsonl")), says="cannot be scored"),
    Case("export/medsg-image-undecodable", "build sequences --out {seq} --export-medsg {out}",
         cell("images", [{"bytes": b"junk", "path": None}] * 2, SEQ_SHARD), says="image"),
    # build sequences --from-medsg (MedSG-Bench JSON import)
    Case("medsg/not-json", MEDSG, medsg("{nope"), says="ms.json"),
    Case("medsg/not-utf8", MEDSG, medsg(b'[{"task": "\xff"}]'), says="ms.json"),
    Case("medsg/huge-number", MEDSG, medsg(f"[{HUGE_NUMBER}]"), says="ms.json"),
    Case("medsg/deeply-nested", MEDSG, medsg(DEEP), says="ms.json"),
    Case("medsg/not-a-list", MEDSG, medsg('{"task": "x"}'), says="ms.json"),
    Case("medsg/item-a-string", MEDSG, medsg("x"), says="ms.json"),
    Case("medsg/file-missing", MEDSG.replace("{dir}/ms.json", "{dir}/none.json"), says="none.json"),
    Case("medsg/file-a-folder", MEDSG.replace("{dir}/ms.json", "{images}"), says="images"),
    Case("medsg/image-climbs-out", MEDSG, chain(copy("images/a.png", "outside.png"),
                                                medsg(medsg_item(images=["a.png", "../outside.png"]))),
         says="../outside.png"),
    Case("medsg/image-absolute", MEDSG, medsg(medsg_item(images=["a.png", "/etc/hostname"])), says="/etc/hostname"),
    Case("medsg/image-not-an-image", MEDSG, chain(write("images/t.png", "text"), medsg(medsg_item(images=["t.png"]))),
         says="t.png"),
    Case("medsg/image-a-folder", MEDSG, chain(mkdir("images/d.png"), medsg(medsg_item(images=["d.png"]))),
         says="d.png"),
    Case("medsg/image-a-number", MEDSG, medsg(medsg_item(images=[5])), says="ms.json"),
    Case("medsg/images-empty", MEDSG, medsg(medsg_item(images=[])), says="ms.json"),
    Case("medsg/answer-strings", MEDSG, medsg(medsg_item(answer=["a", "b", "c", "d"])), says="ms.json"),
    Case("medsg/answer-a-number", MEDSG, medsg(medsg_item(answer=5)), says="ms.json"),
    Case("medsg/answer-empty", MEDSG, medsg(medsg_item(answer=[])), says="ms.json"),
    Case("medsg/size-a-number", MEDSG, medsg(medsg_item(size=5)), says="ms.json"),
    Case("medsg/task-missing", MEDSG, medsg(medsg_item(task=...)), says="ms.json"),
    Case("medsg/task-unknown", MEDSG, medsg(medsg_item(task="nope")), says="nope"),
    Case("medsg/answer-image-zero", MEDSG, medsg(medsg_item(answer_image=0)), says="ms.json"),
    Case("medsg/id-climbs-out", MEDSG, medsg(medsg_item(id="../../x")), says="../../x"),
    Case("medsg/question-null", MEDSG, medsg(medsg_item(question=None)), says="ms.json"),
    # the other exports and builds
    Case("export/lmms-eval-shard-truncated", "export lmms-eval {folder} --out {out}", truncate(SHARD, 100),
         says=SHARD_NAME),
    Case("export/lmms-eval-folder-missing", "export lmms-eval {dir}/nope --out {out}", says="nope"),
    # a shard name carrying YAML (once written into the task YAML unquoted: PyYAML read task = hijacked_task)
    Case("export/lmms-eval-shard-name-yaml", "export lmms-eval {folder} --out {out}",
         copy(SHARD, "folder/data/vgmed/test\ntask: hijacked_task\nx-00000-of-00001.parquet"), says="hijacked_task"),
    Case("export/lmms-eval-shard-name-jinja", "export lmms-eval {folder} --out {out}",
         copy(SHARD, "folder/data/vgmed/test{{ x }}: [&a *b-00000-of-00001.parquet"), says="{{ x }}"),
    Case("export/lmms-eval-task-name-yaml", "export lmms-eval {folder} --out {out} --name x:{{y}}", says="x:{y}"),
    Case("export/vlmevalkit-shard-truncated", "export vlmevalkit {folder} --out {out}/x.tsv", truncate(SHARD, 100),
         says=SHARD_NAME),
    Case("export/vlmevalkit-image-undecodable", "export vlmevalkit {folder} --out {out}/x.tsv",
         cell("image", {"bytes": b"junk", "path": None}), says=FIRST_ID),
    Case("export/medsg-no-sequences", "build sequences --out {folder} --export-medsg {out}", says="sequences"),
    Case("build/source-missing", BUILD + " kvasir-seg={dir}/nope", says="nope"),
    Case("build/source-a-file", BUILD + " kvasir-seg={file}", write("input.bin", "x"), says="input.bin"),
    Case("build/source-wrong-layout", BUILD + " kvasir-seg={images}", says="images"),
    Case("build/source-unknown", BUILD + " no-such-source={images}", says="no-such-source"),
    Case("score/config-missing", "eval score --dataset {folder} --predictions {preds} --format pixel_xyxy "
         "--config sequences", says="sequences"),
    Case("sources/verify-missing", "sources verify kvasir-seg {dir}/nope", says="nope", exit=1),
    Case("eval-publish/run-missing", f"eval publish {{dir}}/nope --repo lab/r --token hf_x --endpoint {UNREACHABLE}",
         says="nope"),
    Case("eval-publish/run-json-broken", f"eval publish {{dir}}/run --repo lab/r --token hf_x --endpoint {UNREACHABLE}",
         write("run/run.json", "{x"), says="run"),
    # eval run (a tiny random-weight LLaVA)
    Case("eval-run/shard-truncated", "eval run --model {tiny} --dataset {folder} --out {out}", truncate(SHARD, 100),
         says=SHARD_NAME),
    Case("eval-run/dataset-missing", "eval run --model {tiny} --dataset {dir}/nope --out {out}", says="nope"),
    Case("eval-run/out-is-a-file", "eval run --model {tiny} --dataset {folder} --out {file}", write("input.bin", "x"),
         says="input.bin"),
    # publish
    Case("publish/unreachable-endpoint", PUBLISH, says=UNREACHABLE),
    Case("publish/shard-truncated", PUBLISH, truncate(SHARD, 100), says=SHARD_NAME),
    Case("publish/image-undecodable", PUBLISH, cell("image", {"bytes": b"junk", "path": None}), says=FIRST_ID),
]


def _pydicom_dir() -> str:
    import pydicom.data

    return str(Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent)


# ---------------------------------------------------------------------------------------- hostile folders and files
def link(relative: str, target: str) -> Make:
    """Make ``relative`` a symbolic link to ``target`` (as written: relative to the link's folder, or absolute);
    an existing file or folder there is moved to ``outside/`` first, so the link can point at it."""
    def make(case: Path) -> None:
        path = case / relative
        if path.exists() and not path.is_symlink():
            (case / "outside").mkdir(exist_ok=True)
            path.rename(case / "outside" / path.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    return make


def fifo(relative: str) -> Make:
    """Replace ``relative`` with a named pipe (opening it for reading would wait for a writer forever)."""
    def make(case: Path) -> None:
        import os

        path = case / relative
        if path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
    return make


def sparse(relative: str, size: int) -> Make:
    """A file of ``size`` zero bytes that takes no disk space (its size is what a reader checks)."""
    def make(case: Path) -> None:
        path = case / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.truncate(size)
    return make


def other_schema(relative: str) -> Make:
    """A valid Parquet file whose schema is not a vgmed configuration's."""
    def make(case: Path) -> None:
        pq.write_table(pa.table({"id": ["x"], "question": ["hello"]}), case / relative)
    return make


def msd(index: Any) -> Make:
    """A Decathlon task folder ``msd/`` (dataset.json, imagesTr/, labelsTr/) and a file outside it,
    ``private_other_study/x.nii.gz``; ``index``: the dataset.json value (bytes: the file as given)."""
    def make(case: Path) -> None:
        for folder in ("msd/imagesTr", "msd/labelsTr", "private_other_study"):
            (case / folder).mkdir(parents=True, exist_ok=True)
        (case / "private_other_study" / "x.nii.gz").write_bytes(b"not for this build")
        data = index if isinstance(index, bytes) else json.dumps(index).encode()
        (case / "msd" / "dataset.json").write_bytes(data)
    return make


def msd_training(*items: Any) -> dict[str, Any]:
    return {"name": "Spleen", "modality": {"0": "CT"}, "labels": {"0": "background", "1": "spleen"},
            "training": list(items)}


def slake(img_name: str) -> Make:
    """A SLAKE folder ``slake/`` whose train.json names ``img_name``, and an image outside it."""
    def make(case: Path) -> None:
        (case / "slake" / "imgs").mkdir(parents=True, exist_ok=True)
        (case / "private").mkdir(exist_ok=True)
        shutil.copyfile(case / "images" / "a.png", case / "private" / "source.jpg")
        (case / "private" / "detection.json").write_text(json.dumps([{"Liver": [1, 1, 5, 5]}]))
        item = {"img_name": img_name, "modality": "CT", "location": "Abdomen", "q_lang": "en",
                "question": "Which organ?", "answer": "Liver"}
        (case / "slake" / "train.json").write_text(json.dumps([item]))
    return make


def idc(change: Make) -> Make:
    """The LIDC-IDRI miniature in IDC's download hierarchy under ``idc/`` (tests/builders/miniatures.py), then
    ``change``; the first CT slice of patient 1 is ``IDC_SLICE`` (a glob)."""
    def make(case: Path) -> None:
        from tests.builders.miniatures import write_lidc_idc

        write_lidc_idc(case / "idc")
        first = sorted((case / "idc/lidc_idri/LIDC-IDRI-0001").glob("*/CT_*/*.dcm"))[0]
        (case / "idc-first-slice").write_text(str(first.relative_to(case)))
        change(case)
        (case / "idc-first-slice").unlink()
    return make


def first_slice(maker: Callable[[str], Make]) -> Make:
    return lambda case: maker((case / "idc-first-slice").read_text())(case)


MSD_BUILD = BUILD + " msd-spleen={dir}/msd"
IDC_BUILD = BUILD + " lidc-idri={dir}/idc/lidc_idri --deid-key corpus-key-0123456789abcdef"
LMMS = "export lmms-eval {folder} --out {out}"
VLMEVALKIT = "export vlmevalkit {folder} --out {out}/x.tsv"
SERVE = "eval serve {folder}"
MSD_IMAGE = {"image": "./imagesTr/spleen_1.nii.gz", "label": "./labelsTr/spleen_1.nii.gz"}
BOX_QUESTION = "Which image shows the change of the region <|box_start|>{}<|box_end|>?"
CONFIG = "folder/data/vgmed"
# a run's manifest (tests/eval/legacy_runs), for commands that need a run folder
LEGACY_MANIFEST = (Path(__file__).parents[1] / "eval/legacy_runs/run-grounding/run.json").read_bytes()
EVAL_RUN = "eval run --model {tiny} --dataset {folder} --out {out}"
HEADS_RUN = EVAL_RUN + " --method baseline,vgrefine --heads {dir}/heads.json"

HOSTILE: list[Case] = [
    # data paths that leave their folder: read side
    Case("build/msd-image-climbs-out", MSD_BUILD,
         msd(msd_training({**MSD_IMAGE, "image": "../private_other_study/x.nii.gz"})),
         says="../private_other_study/x.nii.gz"),
    Case("build/msd-image-absolute", MSD_BUILD, msd(msd_training({**MSD_IMAGE, "image": "/etc/hostname"})),
         says="/etc/hostname"),
    Case("build/msd-image-link-out", MSD_BUILD,
         chain(msd(msd_training(MSD_IMAGE)), link("msd/imagesTr/spleen_1.nii.gz", "../../private_other_study/x.nii.gz")),
         says="imagesTr/spleen_1.nii.gz"),
    Case("build/msd-item-a-string", MSD_BUILD, msd(msd_training("./imagesTr/spleen_1.nii.gz")), says="dataset.json"),
    Case("build/msd-image-a-number", MSD_BUILD, msd(msd_training({**MSD_IMAGE, "image": 5})), says="dataset.json"),
    Case("build/msd-not-utf8", MSD_BUILD, msd(b'{"training": [{"image": "\xff\xfe"}]}'), says="dataset.json"),
    Case("build/msd-index-a-pipe", MSD_BUILD, chain(msd(msd_training(MSD_IMAGE)), fifo("msd/dataset.json")),
         says="dataset.json"),
    Case("build/msd-index-over-limit", MSD_BUILD, chain(msd(msd_training(MSD_IMAGE)),
                                                        sparse("msd/dataset.json", 513 << 20)), says="512 MiB"),
    Case("build/slake-image-climbs-out", BUILD + " slake={dir}/slake", slake("../../private/source.jpg"),
         says="../../private/source.jpg"),
    # a reader that walks its folder: a file found there that is a link out is refused by the builder
    Case("build/kvasir-image-link-out", BUILD + " kvasir-seg={dir}/kvasir",
         chain(copy("images/a.png", "outside.jpg"), write("kvasir/masks/a.jpg", "x"),
               link("kvasir/images/a.jpg", "../../outside.jpg")), says="images/a.jpg"),
    Case("build/kvasir-mask-link-out", BUILD + " kvasir-seg={dir}/kvasir",
         chain(copy("images/a.png", "outside.jpg"), write("kvasir/images/a.jpg", "x"),
               link("kvasir/masks/a.jpg", "../../outside.jpg")), says="masks/a.jpg"),
    # a slice that is a pipe is never opened (the reader passes over files it cannot read as DICOM, so the series
    # lacks a slice); a slice that is a link to a slice moved out of the folder is refused by the builder
    Case("build/idc-slice-a-pipe", IDC_BUILD, idc(first_slice(fifo)), says="LIDC-IDRI-0001"),
    Case("build/idc-slice-link-out", IDC_BUILD, idc(lambda case: first_slice(
        lambda name: link(name, str(case / "outside" / Path(name).name)))(case)), says="leaves"),
    # dataset folders whose shards, configuration folder, data/ or card lead out, or are not regular files
    Case("validate/shard-link-out", "validate {folder}", link(SHARD, f"../../../outside/{SHARD_NAME}"),
         says=SHARD_NAME, exit=1),
    Case("validate/config-link-out", "validate {folder}", link(CONFIG, "../../outside/vgmed"), says="data/vgmed",
         exit=1),
    Case("validate/data-link-out", "validate {folder}", link("folder/data", "../outside/data"),
         says="data is a link", exit=1),
    Case("validate/card-link-out", "validate {folder}", link("folder/README.md", "../outside/README.md"),
         says="README.md", exit=1),
    Case("validate/card-data-files-climb-out", "validate {folder}",
         write("folder/README.md", "---\nconfigs:\n- config_name: vgmed\n  data_files:\n  - split: test\n"
               "    path: ../outside/*.parquet\n---\n"), says="../outside/*.parquet", exit=1),
    Case("eval-serve/card-data-files-absolute", "eval serve {dir}/results",
         write("results/README.md", "---\nconfigs:\n- config_name: runs\n  data_files: /etc/*.parquet\n---\n"),
         says="/etc/*.parquet"),
    Case("validate/card-dev-zero", "validate {folder}", link("folder/README.md", "/dev/zero"), says="README.md",
         exit=1),
    Case("validate/card-a-pipe", "validate {folder}", fifo("folder/README.md"), says="named pipe", exit=1),
    Case("validate/card-over-limit", "validate {folder}", sparse("folder/README.md", 17 << 20), says="16 MiB", exit=1),
    Case("validate/shard-a-pipe", "validate {folder}", fifo(SHARD), says=SHARD_NAME, exit=1),
    Case("validate/shard-other-schema", "validate {folder}", other_schema(SHARD), says=SHARD_NAME, exit=1),
    Case("export/lmms-eval-shard-a-pipe", LMMS, fifo(SHARD), says=SHARD_NAME),
    Case("export/lmms-eval-shard-link-out", LMMS, link(SHARD, f"../../../outside/{SHARD_NAME}"), says=SHARD_NAME),
    Case("export/lmms-eval-config-link-out", LMMS, link(CONFIG, "../../outside/vgmed"), says="data/vgmed"),
    Case("export/lmms-eval-other-schema", LMMS, other_schema(SHARD), says=SHARD_NAME),
    Case("export/vlmevalkit-shard-a-pipe", VLMEVALKIT, fifo(SHARD), says=SHARD_NAME),
    Case("export/vlmevalkit-shard-link-out", VLMEVALKIT, link(SHARD, f"../../../outside/{SHARD_NAME}"),
         says=SHARD_NAME),
    Case("export/vlmevalkit-data-link-out", VLMEVALKIT, link("folder/data", "../outside/data"), says="data is a link"),
    Case("export/vgmed-jsonl-shard-a-pipe", EXPORT, fifo(SHARD), says=SHARD_NAME),
    Case("import/file-a-pipe", IMPORT, fifo("in.jsonl"), says="in.jsonl"),
    Case("render/a-pipe", "render {dir}/input.png --out {out}/x.png", fifo("input.png"), says="input.png"),
    Case("render/a-device", "render /dev/zero --out {out}/x.png", says="/dev/zero"),
    Case("build/kvasir-mask-a-pipe", BUILD + " kvasir-seg={dir}/kvasir",
         chain(mkdir("kvasir/images"), copy("images/a.png", "kvasir/images/a.jpg"), fifo("kvasir/masks/a.jpg")),
         says="masks/a.jpg"),
    Case("medsg/file-a-pipe", MEDSG, fifo("ms.json"), says="ms.json"),
    Case("medsg/image-a-pipe", MEDSG, chain(fifo("images/p.png"), medsg(medsg_item(images=["a.png", "p.png"]))),
         says="named pipe"),
    # output paths: nothing is written through a link out of the output folder
    Case("import/out-data-link-out", "import vgmed-jsonl {jsonl} --images {images} --out {folder}",
         link("folder/data", "../outside/data"), says="data is a link"),
    Case("export/medsg-images-link-out", "build sequences --out {seq} --export-medsg {dir}/exp",
         chain(mkdir("outside-images"), link("exp/images", "../outside-images")), says="images"),
    # eval run: nothing is written through a link out of the run folder (checked before the model loads)
    Case("eval-run/out-summary-link-out", EVAL_RUN, link("out/summary.md", "../outside-run/summary.md"),
         says="summary.md"),
    Case("eval-run/out-attention-link-out", EVAL_RUN, chain(mkdir("outside-run"), link("out/attention", "../outside-run")),
         says="attention"),
    Case("eval-run/out-overlays-link-out", EVAL_RUN, chain(mkdir("outside-run"), link("out/overlays", "../outside-run")),
         says="overlays"),
    Case("eval-run/out-rank-records-link-out", EVAL_RUN,
         link("out/ranks/rank-00000-of-00001/samples.jsonl", "../../../outside-run/samples.jsonl"),
         says="ranks/rank-00000-of-00001/samples.jsonl"),
    Case("eval-merge/out-summary-link-out", "eval merge --out {out}",
         chain(write("out/run.json", LEGACY_MANIFEST), link("out/summary.md", "../outside-run/summary.md")), says="summary.md"),
    # eval side files that are not regular files, or too large: refused before anything opens them
    Case("eval-run/heads-a-pipe", HEADS_RUN, fifo("heads.json"), says="heads.json"),
    Case("eval-run/heads-over-limit", HEADS_RUN, sparse("heads.json", 513 << 20), says="512 MiB"),
    Case("eval-run/resume-run-json-a-pipe", EVAL_RUN, fifo("out/run.json"), says="run.json"),
    Case("eval-run/resume-run-json-over-limit", EVAL_RUN, sparse("out/run.json", 513 << 20), says="512 MiB"),
    Case("score/predictions-a-pipe", SCORE, fifo("preds.jsonl"), says="preds.jsonl"),
    Case("score/predictions-line-over-limit", SCORE, sparse("preds.jsonl", 65 << 20), says="64 MiB"),
    Case("eval-publish/run-json-a-pipe", f"eval publish {{dir}}/run --repo lab/r --token hf_x --endpoint {UNREACHABLE}",
         fifo("run/run.json"), says="run.json"),
    # MedSG box text that is not numbers
    Case("medsg/reference-box-three-dots", MEDSG, medsg(medsg_item(question=BOX_QUESTION.format("(1.2.3,4),(9,9)"))),
         says="ms.json"),
    Case("medsg/reference-box-a-dot", MEDSG, medsg(medsg_item(question=BOX_QUESTION.format("(.,4),(9,9)"))),
         says="ms.json"),
    # eval serve: refused before anything is served
    Case("eval-serve/folder-missing", "eval serve {dir}/nope", says="nope"),
    Case("eval-serve/readme-only", "eval serve {dir}/only", write("only/README.md", "# results\n"), says="only"),
    Case("eval-serve/port-out-of-range", SERVE + " --port 99999", says="99999"),
    Case("eval-serve/host-unresolvable", SERVE + " --host no-such-host.invalid", says="no-such-host.invalid"),
]
CASES += HOSTILE
