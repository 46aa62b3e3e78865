"""Secret masking: names, values from the environment, URL passwords, nested objects and log records."""

import logging
from collections.abc import Iterator

import pytest

from cvn_assets.core.alerts import sink as alerts
from cvn_assets.core.secrets import (
    SecretScrubFilter,
    install_log_scrubber,
    is_secret_name,
    redact,
    scrub,
    scrub_text,
    secret_values,
    uninstall_log_scrubber,
)

SECRET = "s3cr3t-value"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("API_KEY", True, id="key"),
        pytest.param("slack_token", True, id="token-lower-case"),
        pytest.param("DB_Password", True, id="password-mixed-case"),
        pytest.param("CVN_TEST_SECRET", True, id="secret"),
        pytest.param("AWS_SECRET_ACCESS_KEY", True, id="key-after-secret"),
        pytest.param("keyboard", False, id="no-suffix"),
        pytest.param("TOKEN_COUNT", False, id="suffix-not-at-end"),
        pytest.param("PGPASSWORD", False, id="no-underscore-before-suffix"),
        pytest.param("partition_key", False, id="dagster-partition-identifier"),
        pytest.param("asset_key", False, id="dagster-asset-identifier"),
    ],
)
def test_is_secret_name(name: str, expected: bool) -> None:
    assert is_secret_name(name) is expected


def test_alerts_use_the_same_redaction() -> None:
    assert alerts.redact is redact
    assert alerts.SECRET_KEY_PATTERN.search("MLFLOW_TOKEN")


def test_secret_values_take_secret_named_variables_of_four_characters_or_more() -> None:
    environ = {
        "CVN_TEST_SECRET": SECRET,
        "API_KEY": "abcd",
        "SHORT_TOKEN": "abc",
        "EMPTY_PASSWORD": "",
        "HOME": "/home/user",
        "partition_key": "BTC|f1.base",
    }
    assert secret_values(environ) == {SECRET, "abcd"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"connecting with {SECRET} now", "connecting with *** now", id="plain-occurrence"),
        pytest.param(f"{SECRET}/{SECRET}", "***/***", id="every-occurrence"),
        pytest.param(
            "postgresql://cvn:hunter22@db:5432/results",
            "postgresql://cvn:***@db:5432/results",
            id="url-password-even-if-unknown",
        ),
        pytest.param("redis://:hunter22@cache:6379/0", "redis://:***@cache:6379/0", id="url-without-user"),
        pytest.param(
            "https://mlflow.example:8443/#/experiments/1",
            "https://mlflow.example:8443/#/experiments/1",
            id="url-with-port-untouched",
        ),
        pytest.param("https://user@example.com/x", "https://user@example.com/x", id="url-user-only-untouched"),
        pytest.param("s3cr3t%2Fvalue leaked", "*** leaked", id="url-encoded-secret"),
        pytest.param("API_TOKEN=abc123 region=eu", "API_TOKEN=*** region=eu", id="named-value"),
        pytest.param("{'db_password': 'hunter22', 'n': 1}", "{'db_password': '***', 'n': 1}", id="named-in-repr"),
        pytest.param("partition_key=BTC|f1.base", "partition_key=BTC|f1.base", id="identifier-untouched"),
    ],
)
def test_scrub_text(text: str, expected: str) -> None:
    assert scrub_text(text, {SECRET, "s3cr3t/value"}) == expected


def test_scrub_text_masks_a_longer_secret_whole() -> None:
    assert scrub_text("key abcd-efgh", {"abcd", "abcd-efgh"}) == "key ***"


def test_scrub_redacts_keys_and_masks_values_at_any_depth() -> None:
    obj = {
        "API_TOKEN": "t-12345",
        "note": f"uses {SECRET}",
        "n": 3,
        "ratio": 0.5,
        "none": None,
        "runs": [{"db_password": "p"}, f"x{SECRET}", ("a", SECRET)],
        f"k{SECRET}": 1,
    }
    assert scrub(obj, {SECRET}) == {
        "API_TOKEN": "***",
        "note": "uses ***",
        "n": 3,
        "ratio": 0.5,
        "none": None,
        "runs": [{"db_password": "***"}, "x***", ["a", "***"]],
        "k***": 1,
    }
    assert obj["API_TOKEN"] == "t-12345"


def test_scrub_reads_secrets_from_the_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVN_TEST_SECRET", SECRET)
    assert scrub([f"dsn {SECRET}"]) == ["dsn ***"]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, _Records]]:
    logger = logging.getLogger("cvn_assets.test_secrets")
    handler = _Records()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)
    for log_filter in list(logger.filters):
        logger.removeFilter(log_filter)


def test_log_filter_masks_message_arguments_and_traceback(captured: tuple[logging.Logger, _Records]) -> None:
    logger, handler = captured
    logger.addFilter(SecretScrubFilter({SECRET}))
    logger.info("connect %s with %r", f"postgresql://u:{SECRET}@h/db", {"API_TOKEN": "tok-12345"})
    try:
        raise RuntimeError(f"refused {SECRET}")
    except RuntimeError:
        logger.exception("failed")
    assert handler.lines[0] == "connect postgresql://u:***@h/db with {'API_TOKEN': '***'}"
    assert "RuntimeError: refused ***" in handler.lines[1]
    assert all(SECRET not in line and "tok-12345" not in line for line in handler.lines)


def test_log_filter_leaves_clean_records_untouched() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "rows %d", (5,), None)
    assert SecretScrubFilter({SECRET}).filter(record) is True
    assert (record.msg, record.args) == ("rows %d", (5,))


def test_installed_scrubber_masks_every_logger_and_uninstalls(
    monkeypatch: pytest.MonkeyPatch, captured: tuple[logging.Logger, _Records], request: pytest.FixtureRequest
) -> None:
    logger, handler = captured
    previously = logging.getLogRecordFactory()  # other tests may have built Definitions, which install it
    request.addfinalizer(lambda: logging.setLogRecordFactory(previously))
    uninstall_log_scrubber()
    original = logging.getLogRecordFactory()
    monkeypatch.setenv("CVN_TEST_SECRET", SECRET)
    try:
        install_log_scrubber()
        installed = logging.getLogRecordFactory()
        install_log_scrubber({"OTHER_TOKEN": "other-token"})
        assert logging.getLogRecordFactory() is installed
        logger.info("values %s %s", SECRET, "other-token")
    finally:
        uninstall_log_scrubber()
    assert logging.getLogRecordFactory() is original
    logger.info("after %s", SECRET)
    # The second install replaced the secrets; after uninstalling nothing is masked any more.
    assert handler.lines == [f"values {SECRET} ***", f"after {SECRET}"]
