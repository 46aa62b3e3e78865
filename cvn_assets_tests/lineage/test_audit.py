"""The audit of a verdict, walked link by link against the instance's event log, reporting the catalogue,
code and libraries recorded when it was produced; secrets stay out of it."""

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from cvn_assets.cli.main import main
from cvn_assets.core.catalogue.loading import load_catalogue
from cvn_assets.core.data.loading import ohlcv_content_hash
from cvn_assets.core.errors import DataSourceError
from cvn_assets.defs.build import build_defs
from cvn_assets.lineage.audit import audit_verdict
from cvn_assets.orchestration.runner import run_sweep
from cvn_assets_tests.conftest import make_settings, small_catalogue_document

SECRET_PARAM = "tok-5ecret-value-917"
SECRET_ENV = "pw-zz-5ecret-44"
CONFIGS = ["baseline", "ls_mild", "ls_aggressive"]
SWEPT_EPS_BUY = 0.10  # the packaged catalogue's mild variant has 0.15


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path) -> Iterator[tuple]:
    root = tmp_path_factory.mktemp("audit")
    home = root / "dagster_home"
    home.mkdir()
    patch = pytest.MonkeyPatch()
    patch.setenv("CVN_SERVICE_PASSWORD", SECRET_ENV)
    document = small_catalogue_document(("BTC",))
    # A secret-named key where parameters go. A learner taking a credential (one calling a service) is a
    # custom learner, which the catalogue's dry run does not check; XGBoost, which would refuse the key
    # there, stands in for it with the check off.
    document["learners"]["xgboost"]["api_token"] = SECRET_PARAM
    patch.setattr("cvn_assets.defs.build.check_catalogue_learners", lambda catalogue: None)
    del document["factors"]["cleanlab"], document["joint"]
    document["factors"]["label_smoothing"]["variants"]["mild"]["eps_buy"] = SWEPT_EPS_BUY
    settings = make_settings(root, small_data_dir, catalogue=document, mlflow=True)
    defs = build_defs(settings)
    with dg.DagsterInstance.local_temp(str(home), overrides={"telemetry": {"enabled": False}}) as instance:
        report = run_sweep(defs, instance, log=lambda _: None)
        assert report.ok, report.failures
        yield defs, instance, settings, home
    patch.undo()


def _latest(instance: dg.DagsterInstance, key: str, partition: str) -> dg.EventLogRecord:
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(key), asset_partitions=[partition]), limit=1
    ).records[0]


@pytest.mark.slow
def test_every_link_of_the_audit_is_in_the_event_log(swept: tuple) -> None:
    defs, instance, _, _ = swept
    catalogue = defs.resources["sweep"].catalogue
    tree = audit_verdict(instance, "label_smoothing", current=catalogue)

    verdict = _latest(instance, "gate_verdict", "label_smoothing")
    assert (tree["verdict"]["storage_id"], tree["verdict"]["run_id"]) == (verdict.storage_id, verdict.run_id)
    assert {c["check"] for c in tree["verdict"]["checks"]} == {"gate_passed"}
    assert tree["catalogue"]["factors"]["label_smoothing"]["variants"]["mild"] == {
        "eps_buy": SWEPT_EPS_BUY,
        "eps_hold": 0.075,
    }
    assert tree["environment"]["libraries"]["xgboost"] and tree["seed"] == 7
    assert tree["catalogue_fingerprint"] == catalogue.fingerprint() and tree["not_recorded"] == []
    assert tree["now"]["differs"] == []

    assert sorted(c["partition"] for c in tree["cells"]) == sorted(
        f"BTC|f{f}.{c}" for f in range(1, 6) for c in CONFIGS
    )
    raw_labels = _latest(instance, "raw_labels", "BTC")
    for cell in tree["cells"]:
        record = _latest(instance, "fold_metrics", cell["partition"])
        assert (cell["storage_id"], cell["run_id"]) == (record.storage_id, record.run_id)
        assert cell["run_status"] == "SUCCESS" and cell["fingerprint"]
        assets = {a["asset"]: a for a in cell["assets"]}
        assert set(assets) == {"smoothed_labels", "cleanlab_mask", "oos_predictions/xgboost", "fold_metrics"}
        for name, node in assets.items():
            assert node["storage_id"] == _latest(instance, name, cell["partition"]).storage_id
            assert node["code_version"] == "1"
        read = assets["smoothed_labels"]["consumed"]["raw_labels"]
        assert [(r["partition"], r["storage_id"]) for r in read] == [("BTC", raw_labels.storage_id)]
        assert assets["fold_metrics"]["mlflow_run_id"]
        blocking = [c for c in cell["checks"] if c["blocking"]]
        assert all(c["passed"] for c in blocking) and len(blocking) >= 4
        assert {c["check"] for c in cell["checks"] if not c["blocking"]} == {"models_beat_always_buy"}
        assert cell["provenance"]["catalogue_fingerprint"] == catalogue.fingerprint()
        assert cell["provenance_differs"] == []

    data = tree["data"]["BTC"]
    assert data["run_id"] == raw_labels.run_id
    ohlcv = next(a for a in data["assets"] if a["asset"] == "ohlcv")
    csv = pd.read_csv(Path(defs.resources["ohlcv_source"].directory) / "BTC.csv")
    assert ohlcv["content_sha256"] == ohlcv_content_hash(defs.resources["ohlcv_source"].load("BTC"))
    assert ohlcv["rows"] == len(csv)
    assert {c["check"] for c in data["checks"]} >= {"ohlcv_sanity", "label_rate_and_tail"}
    assert data["provenance"] == tree["cells"][0]["provenance"] and data["provenance_differs"] == []

    narrowed = audit_verdict(instance, "label_smoothing", variant="mild", current=catalogue)
    assert {c["partition"].split(".")[1] for c in narrowed["cells"]} == {"baseline", "ls_mild"}
    assert {r["variant"] for r in narrowed["verdict"]["table"]} == {"mild"}
    with pytest.raises(DataSourceError, match="no variant 'strong'"):
        audit_verdict(instance, "label_smoothing", variant="strong", current=catalogue)
    message = r"'none' is the baseline of 'label_smoothing'.*one of \['aggressive', 'mild'\]"
    with pytest.raises(DataSourceError, match=message):
        audit_verdict(instance, "label_smoothing", variant="none", current=catalogue)

    stored = verdict.asset_materialization.metadata["audit"].value
    # the gate's own check runs after the verdict is stored: none yet, and the section says so
    assert "### Checks on the verdict\n\n(none)\n" in stored
    storage_id = _latest(instance, "fold_metrics", "BTC|f3.ls_mild").storage_id
    assert f"`BTC|f3.ls_mild` — fold_metrics storage id {storage_id}" in stored


@pytest.mark.slow
def test_the_cli_prints_the_audit(swept: tuple, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _, _, settings, home = swept
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CVN_CATALOGUE", settings.catalogue_path)
    assert main(["audit", "label_smoothing", "--variant", "aggressive", "--format", "json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert len(tree["cells"]) == 10 and tree["verdict"]["partition"] == "label_smoothing"
    assert tree["now"]["differs"] == []
    assert main(["audit", "label_smoothing"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# Audit of `gate_verdict[label_smoothing]`")
    assert "### Checks on the verdict\n\n- gate_passed on `gate_verdict[label_smoothing]`: " in markdown  # since stored
    assert main(["audit", "no_such_factor"]) == 2


@pytest.mark.slow
def test_a_past_verdict_is_audited_under_the_catalogue_it_was_produced_with(
    swept: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    defs, instance, _, home = swept
    swept_fp, default_fp = defs.resources["sweep"].catalogue.fingerprint(), load_catalogue().fingerprint()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("CVN_CATALOGUE", raising=False)
    monkeypatch.delenv("CVN_UNIVERSE", raising=False)

    assert main(["audit", "label_smoothing", "--variant", "mild", "--format", "json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["catalogue"]["factors"]["label_smoothing"]["variants"]["mild"]["eps_buy"] == SWEPT_EPS_BUY
    assert tree["catalogue_fingerprint"] == swept_fp != default_fp and tree["not_recorded"] == []
    assert tree["now"]["catalogue_fingerprint"] == default_fp and "catalogue_fingerprint" in tree["now"]["differs"]
    assert sorted({c["partition"].split(".")[1] for c in tree["cells"]}) == ["baseline", "ls_mild"]
    assert {c["provenance"]["catalogue_fingerprint"] for c in tree["cells"]} == {swept_fp}

    assert main(["audit", "label_smoothing", "--variant", "mild"]) == 0
    report = capsys.readouterr().out
    assert f"- catalogue fingerprint `{swept_fp}`, seed 7\n" in report and '"eps_buy": 0.1,' in report
    assert (
        f"- catalogue now: `{default_fp}`, seed {load_catalogue().seed} "
        f"(differs from the verdict's `{swept_fp}`, seed 7)"
    ) in report
    stored = _latest(instance, "gate_verdict", "label_smoothing").asset_materialization.metadata["audit"].value
    produced_under = report.split("Produced under")[1].split("- catalogue now")[0]
    assert produced_under in stored and "catalogue now" not in stored

    # Today's catalogue need not even know the variant: which cells a variant reads is the verdict's record.
    document = yaml.safe_load(Path(load_catalogue().source).read_text())
    del document["factors"]["label_smoothing"]["variants"]["mild"]
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.setenv("CVN_CATALOGUE", str(tmp_path / "other.yaml"))
    assert main(["audit", "label_smoothing", "--variant", "mild", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["catalogue_fingerprint"] == swept_fp


@pytest.mark.slow
def test_secrets_appear_nowhere(swept: tuple) -> None:
    from mlflow import MlflowClient

    defs, instance, _, home = swept
    texts = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            texts.append(entry.user_message)
            event = entry.dagster_event
            if event is not None and event.is_step_materialization:
                texts.append(
                    json.dumps(
                        {k: str(v.value) for k, v in event.step_materialization_data.materialization.metadata.items()}
                    )
                )
    client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            texts.append(json.dumps(run.data.params) + json.dumps(run.data.tags))
    catalogue = defs.resources["sweep"].catalogue
    texts.append(json.dumps(audit_verdict(instance, "label_smoothing", current=catalogue), default=str))
    everything = "\n".join(texts)
    assert "api_token" in everything  # the key is shown, its value is not
    assert SECRET_PARAM not in everything
    assert SECRET_ENV not in everything
