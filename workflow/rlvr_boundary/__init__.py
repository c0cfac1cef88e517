"""rlvr-boundary: pass@k reasoning-boundary measurements of Yue et al. 2025 (arXiv 2504.13837)."""

__version__ = "0.1.0"
