"""Write a dossier to a folder: report.md (figures linked), report.html (self-contained), figures/*.png."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cvn_assets.core.dossier.build import Dossier
from cvn_assets.core.dossier.document import to_html, to_markdown
from cvn_assets.core.dossier.figure_names import FIGURE_NAMES
from cvn_assets.core.dossier.rendering import Submit, render_figures
from cvn_assets.core.dossier.report import dossier_blocks, dossier_title
from cvn_assets.core.errors import DataSourceError

MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
FIGURES_FOLDER = "figures"
REPORT_FILE_MODE = 0o644


@dataclass(frozen=True)
class DossierFiles:
    """Where a written dossier's files are."""

    markdown: Path
    html: Path
    figures: dict[str, Path]


def write_dossier(dossier: Dossier, out_dir: Path, submit: Submit | None = None) -> DossierFiles:
    """Write the dossier's files into `out_dir` (created if needed); figures of an earlier dossier are removed.

    The same dossier always gives byte-identical files. `submit` draws the figures elsewhere (see
    `render_figures`).
    """
    out_dir = Path(out_dir)
    try:
        (out_dir / FIGURES_FOLDER).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataSourceError(f"dossier folder {out_dir} cannot be created: {error}") from error
    pngs = render_figures(dossier, submit)
    figures = {name: out_dir / FIGURES_FOLDER / f"{name}.png" for name in sorted(pngs)}
    # Only the names a dossier draws: `out_dir` may be a folder whose other images are not ours to delete.
    for name in FIGURE_NAMES:
        stale = out_dir / FIGURES_FOLDER / f"{name}.png"
        if name not in figures and stale.exists():
            stale.unlink()
    for name, path in figures.items():
        _atomic_write(path, pngs[name])
    blocks = dossier_blocks(dossier, set(pngs))
    markdown = to_markdown(blocks, lambda name: f"{FIGURES_FOLDER}/{name}.png")
    page = to_html(blocks, lambda name: png_data_uri(pngs[name]), dossier_title(dossier))
    files = DossierFiles(markdown=out_dir / MARKDOWN_NAME, html=out_dir / HTML_NAME, figures=figures)
    _atomic_write(files.markdown, markdown.encode("utf-8"))
    _atomic_write(files.html, page.encode("utf-8"))
    return files


def embedded_markdown(dossier: Dossier, files: DossierFiles) -> str:
    """The report's Markdown with every figure inlined as a `data:image/png` URI (no files needed to view it)."""
    pngs: Mapping[str, bytes] = {name: path.read_bytes() for name, path in files.figures.items()}
    return to_markdown(dossier_blocks(dossier, set(pngs)), lambda name: png_data_uri(pngs[name]))


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _atomic_write(path: Path, payload: bytes) -> None:
    # A reader (the web UI, a browser) never sees a half-written report.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
        # mkstemp makes the file private; a report is meant to be read by whoever serves or opens it.
        os.chmod(temporary, REPORT_FILE_MODE)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
