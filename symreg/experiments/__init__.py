"""The main job and its tasks (top layer: may import every other layer)."""
