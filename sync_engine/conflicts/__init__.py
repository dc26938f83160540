"""conflicts layer."""
