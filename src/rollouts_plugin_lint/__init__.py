"""Lint Argo Rollouts plugin configuration before it reaches a cluster."""

__version__ = "0.1.0"
