"""Code location entry point."""

from cvn_assets.defs.build import build_defs

defs = build_defs()
