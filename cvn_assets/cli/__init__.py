"""Command-line interface: `cvn-assets <command>`; each command module registers its own parser."""
