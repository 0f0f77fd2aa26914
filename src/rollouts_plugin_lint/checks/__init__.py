"""Rules over extracted entries (and, later, their downloads)."""

from rollouts_plugin_lint.checks.static import check_entries

__all__ = ["check_entries"]
