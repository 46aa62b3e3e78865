"""Results dossier of a factor: verdicts, gate table, figures and lineage as Markdown, HTML and PNG files."""

from cvn_assets.core.dossier.build import Dossier, VariantDetail, build_dossier
from cvn_assets.core.dossier.calibration import PooledBins, pool_reliability_bins
from cvn_assets.core.dossier.source import describe_source, load_results_table, normalise_results, select_sweep
from cvn_assets.core.dossier.write import DossierFiles, embedded_markdown, png_data_uri, write_dossier

__all__ = [
    "Dossier",
    "DossierFiles",
    "PooledBins",
    "VariantDetail",
    "build_dossier",
    "describe_source",
    "embedded_markdown",
    "load_results_table",
    "normalise_results",
    "pool_reliability_bins",
    "png_data_uri",
    "select_sweep",
    "write_dossier",
]
