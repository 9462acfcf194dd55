"""The styles experiment's flags resolved against a recipe (no training)."""

import pytest

from experiments.shipped import styles


def test_a_recipe_brings_its_own_temporal_weight_unless_the_flag_gives_one():
  cfg = styles.recipe_config(styles.Config(recipe="affine16", ship=False, part_steps=7))
  assert cfg.temporal_weight == styles.AFFINE16.temporal_weight != styles.FULL.temporal_weight
  assert (cfg.width, cfg.part_steps, cfg.trunk_norm) == (16, 7, "affine")
  given = styles.recipe_config(styles.Config(recipe="affine16", ship=False,
                                             temporal_weight=0.0))
  assert given.temporal_weight == 0.0
  assert styles.recipe_config(styles.Config(recipe="affine")).temporal_weight == 3000.0


def test_only_the_recipes_own_temporal_weight_is_shipped():
  assert styles.recipe_config(styles.Config(recipe="affine16")).ship  # its own: shipped
  with pytest.raises(ValueError, match="--temporal_weight 0 trains a control run"):
    styles.recipe_config(styles.Config(recipe="affine16", temporal_weight=0.0))
  with pytest.raises(ValueError, match="--temporal_weight 100 trains a control run"):
    styles.recipe_config(styles.Config(temporal_weight=100.0))
  with pytest.raises(ValueError, match="--recipe nope: choose one of"):
    styles.recipe_config(styles.Config(recipe="nope"))
