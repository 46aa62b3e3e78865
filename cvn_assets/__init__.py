"""cvn-assets: factor-ablation sweeps for crypto classifiers, as Dagster assets with lineage."""

__version__ = "0.1.0"
