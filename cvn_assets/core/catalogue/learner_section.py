"""The catalogue's `learners` section: parameters per registered learner or ensemble.

Names are checked against both registries and ensemble parameters by the ensemble's own
constructor, all without importing a training library. Learner parameters are checked by a dry
run (`cvn_assets.core.learners.param_check`), which does import them, so it runs where the
Definitions are built rather than wherever a catalogue is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvn_assets.core.catalogue.checks import check_known_keys, describe
from cvn_assets.core.errors import CatalogueError, CvnError
from cvn_assets.core.learners.registry import learner_names


def parse_learners_section(section: Any) -> dict[str, dict[str, Any]]:
    """`{name: params}` for registered learners and ensembles; an unknown name or bad ensemble parameter raises."""
    from cvn_assets.core.ensembles import ensemble_names, make_ensemble

    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise CatalogueError(
            f"catalogue section `learners` must map a model name to its parameters, got {describe(section)}"
        )
    ensembles = ensemble_names()
    check_known_keys(section, [*learner_names(), *ensembles], "catalogue section `learners`", "learner or ensemble")
    learners: dict[str, dict[str, Any]] = {}
    for name, params in section.items():
        if not isinstance(params, Mapping):
            raise CatalogueError(
                f"catalogue section `learners`, {name!r}: parameters must be a mapping, got {describe(params)}"
            )
        if name in ensembles:
            try:
                make_ensemble(name, params)
            except (CvnError, TypeError, ValueError) as exc:
                raise CatalogueError(f"catalogue section `learners`: {exc}") from exc
        learners[str(name)] = dict(params)
    return learners
