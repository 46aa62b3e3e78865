"""cvn-assets: factor-ablation sweeps for crypto classifiers, as Dagster assets with lineage."""

import os

# OpenMP threads of XGBoost/LightGBM spin while idle by default; on a busy 2-core machine that made
# single fits 20-80x slower. Passive waiting must be set before any of those libraries loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
