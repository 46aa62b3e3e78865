"""Adding a model is one new module that registers itself: it flows through to fold_metrics."""

import importlib.util
import sys
from pathlib import Path

import dagster as dg
import pytest

from cvn_assets.core.learners.registry import unregister_learner
from cvn_assets.defs.build import build_defs
from cvn_assets_tests.conftest import make_settings, small_catalogue_document

THROWAWAY_MODULE = """
import numpy as np
from sklearn.linear_model import LogisticRegression

from cvn_assets.core.learners import register_learner


@register_learner("throwaway_logreg")
class ThrowawayLogReg:
    name = "throwaway_logreg"
    in_default_sweep = False

    def __init__(self, params=None, seed=0, n_threads=1):
        self.params, self.seed, self.n_threads = dict(params or {}), seed, n_threads

    def get_params(self):
        return {**self.params, "seed": self.seed}

    def fit(self, features, targets, sample_weight=None):
        x = np.nan_to_num(features)
        self.model_ = LogisticRegression(max_iter=200).fit(x, (targets >= 0.5).astype(int), sample_weight=sample_weight)
        return self

    def decision_margin(self, features):
        return self.model_.decision_function(np.nan_to_num(features))

    def predict_proba(self, features):
        return self.model_.predict_proba(np.nan_to_num(features))[:, 1]
"""


@pytest.fixture
def throwaway_model(tmp_path: Path):
    path = tmp_path / "throwaway_learner.py"
    path.write_text(THROWAWAY_MODULE)
    spec = importlib.util.spec_from_file_location("throwaway_learner", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["throwaway_learner"] = module
    spec.loader.exec_module(module)
    yield "throwaway_logreg"
    unregister_learner("throwaway_logreg")
    sys.modules.pop("throwaway_learner", None)


@pytest.mark.slow
def test_every_registered_model_and_ensemble_reaches_fold_metrics_with_the_same_schema(
    tmp_path: Path, small_data_dir: Path, instance: dg.DagsterInstance, throwaway_model: str
) -> None:
    document = small_catalogue_document()
    document["sweep"]["models"] = ["xgboost", "lightgbm", "catboost", throwaway_model]
    document["factors"]["ensemble"] = {
        "alias": "en",
        "baseline": "xgb_only",
        "variants": {
            "xgb_only": {"model": "xgboost"},
            "throwaway": {"model": throwaway_model},
            "stack_logreg": {"model": "stack_logreg"},
        },
    }
    defs = build_defs(make_settings(tmp_path, small_data_dir, document))
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey(["oos_predictions", throwaway_model]) in graph.get_all_asset_keys()
    assert defs.resolve_job_def("crypto_data_job").execute_in_process(partition_key="BTC", instance=instance).success
    result = defs.resolve_job_def("cell_job").execute_in_process(partition_key="BTC|f4.baseline", instance=instance)
    assert result.success
    rows = defs.resources["results"].store().read("test_sweep")
    by_model = rows[rows["factor"] == "label_smoothing"].set_index("model")
    ensembles = {"blend_mean", "blend_auc", "stack_logreg", "stack_xgb"}
    assert set(by_model.index) == {"xgboost", "lightgbm", "catboost", throwaway_model} | ensembles
    assert (by_model["status"] == "ok").all()
    assert by_model[["f1_buy", "auc", "ece_hold", "threshold"]].notna().all().all()
    second = defs.resolve_job_def("cell_job").execute_in_process(partition_key="BTC|f5.baseline", instance=instance)
    assert second.success
    gate = defs.resolve_job_def("gate_job").execute_in_process(partition_key="ensemble", instance=instance)
    table = {row["variant"]: row for row in gate.asset_value("gate_verdict")["table"]}
    assert set(table) == {"throwaway", "stack_logreg"}
    assert all(row["n_pairs"] == 2 and row["verdict"] == "INCONCLUSIVE" for row in table.values())
    logs = [e.message for e in instance.all_logs(result.run_id) if e.user_message.startswith('{"event": "training_')]
    for model in ("xgboost", "lightgbm", "catboost", throwaway_model, *ensembles):
        assert any('"training_complete"' in m and f'"model": "{model}"' in m for m in logs), model
