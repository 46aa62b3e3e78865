"""Label-noise screening of training windows by confident learning (cleanlab)."""

from cvn_assets.core.noise.inner_cv import NEUTRAL_PRIOR, OutOfSampleProbs, out_of_sample_buy_probs
from cvn_assets.core.noise.mask import MASK_COLUMNS, STAT_NAMES, CleanlabMask, compute_cleanlab_mask
from cvn_assets.core.noise.params import MAX_DROP_PCT, MODES, CleanlabParams
from cvn_assets.core.noise.weights import apply_cleanlab, combine_weights

__all__ = [
    "MASK_COLUMNS",
    "MAX_DROP_PCT",
    "MODES",
    "NEUTRAL_PRIOR",
    "STAT_NAMES",
    "CleanlabMask",
    "CleanlabParams",
    "OutOfSampleProbs",
    "apply_cleanlab",
    "combine_weights",
    "compute_cleanlab_mask",
    "out_of_sample_buy_probs",
]
